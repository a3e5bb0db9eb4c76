"""Liveness (`/health`: the process answers) and readiness (`/health/ready`: the database and
Redis answer too), so orchestrators restart on the first and stop routing on the second.
Readiness asks over connections of its own: a process whose request pools are saturated is
busy, not broken, and must not be taken out of rotation for it."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import text

from common import health
from common.health import NotReady, run_checks
from common.runtime import service_core
from common.testing import free_port

AppFactory = Callable[..., FastAPI]
ClientOpener = Callable[[FastAPI], AbstractAsyncContextManager[httpx.AsyncClient]]


@pytest.fixture
async def client(make_app: AppFactory, running: ClientOpener) -> AsyncIterator[httpx.AsyncClient]:
    async with running(make_app()) as http:
        yield http


class TestLiveness:
    async def test_answers_ok(self, client: httpx.AsyncClient) -> None:
        response = await client.get("/health")

        assert response.status_code == 200
        assert response.json() == {"status": "ok", "checks": {}}

    async def test_does_not_depend_on_the_database(
        self, make_app: AppFactory, running: ClientOpener
    ) -> None:
        app = make_app(database_url=f"postgresql+asyncpg://postgres@127.0.0.1:{free_port()}/x")
        async with running(app) as client:
            response = await client.get("/health")

        assert response.status_code == 200
        assert response.json()["status"] == "ok"


class TestReadiness:
    async def test_ok_when_database_and_redis_answer(self, client: httpx.AsyncClient) -> None:
        response = await client.get("/health/ready")

        assert response.status_code == 200
        assert response.json() == {
            "status": "ok",
            "checks": {"database": "ok", "redis": "ok"},
        }

    async def test_503_naming_redis_when_redis_is_down(
        self, make_app: AppFactory, running: ClientOpener
    ) -> None:
        app = make_app(redis_url=f"redis://127.0.0.1:{free_port()}/0")
        async with running(app) as client:
            response = await client.get("/health/ready")

        assert response.status_code == 503
        assert response.json() == {
            "status": "unavailable",
            "checks": {"database": "ok", "redis": "unavailable"},
        }

    async def test_ok_while_every_request_connection_is_taken(
        self, make_app: AppFactory, running: ClientOpener
    ) -> None:
        app = make_app(
            db_pool_size=1,
            db_max_overflow=0,
            db_pool_timeout=5,
            redis_max_connections=1,
            redis_pool_timeout=5,
        )
        async with running(app) as client:
            redis_pool = service_core(app).redis.connection_pool
            held_redis = await redis_pool.get_connection()  # type: ignore[no-untyped-call]  # redis-py leaves it unannotated
            try:
                async with service_core(app).database.engine.connect() as held_database:
                    await held_database.execute(text("SELECT 1"))
                    response = await client.get("/health/ready")
            finally:
                await redis_pool.release(held_redis)

        assert response.status_code == 200
        assert response.json() == {
            "status": "ok",
            "checks": {"database": "ok", "redis": "ok"},
        }

    async def test_503_naming_the_database_when_it_is_down(
        self, make_app: AppFactory, running: ClientOpener
    ) -> None:
        app = make_app(database_url=f"postgresql+asyncpg://postgres@127.0.0.1:{free_port()}/x")
        async with running(app) as client:
            response = await client.get("/health/ready")

        assert response.status_code == 503
        assert response.json() == {
            "status": "unavailable",
            "checks": {"database": "unavailable", "redis": "ok"},
        }


class TestRunChecks:
    async def test_all_passing_checks_are_ok(self) -> None:
        async def fine() -> None:
            return None

        result = await run_checks({"a": fine, "b": fine})

        assert result.model_dump() == {"status": "ok", "checks": {"a": "ok", "b": "ok"}}

    async def test_a_failing_check_is_named_and_logged_without_details(
        self, caplog: pytest.LogCaptureFixture
    ) -> None:
        async def fine() -> None:
            return None

        async def broken() -> None:
            raise ConnectionRefusedError("password=s3cret host=db.internal")

        caplog.set_level(logging.WARNING, logger="common.health")
        result = await run_checks({"database": broken, "redis": fine})

        assert result.model_dump() == {
            "status": "unavailable",
            "checks": {"database": "unavailable", "redis": "ok"},
        }
        assert "readiness check database failed: ConnectionRefusedError" in caplog.text
        assert "s3cret" not in caplog.text

    async def test_a_hanging_check_times_out_as_unavailable(
        self, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        monkeypatch.setattr(health, "CHECK_TIMEOUT_SECONDS", 0.05)

        async def hangs() -> None:
            await asyncio.sleep(10)

        loop = asyncio.get_running_loop()
        started = loop.time()
        result = await run_checks({"slow": hangs})

        assert result.model_dump() == {"status": "unavailable", "checks": {"slow": "unavailable"}}
        assert loop.time() - started < 1

    async def test_checks_run_concurrently(self, monkeypatch: pytest.MonkeyPatch) -> None:
        monkeypatch.setattr(health, "CHECK_TIMEOUT_SECONDS", 0.2)

        async def slowish() -> None:
            await asyncio.sleep(0.1)

        loop = asyncio.get_running_loop()
        started = loop.time()
        result = await run_checks({f"check{n}": slowish for n in range(5)})

        assert result.status == "ok"
        assert loop.time() - started < 0.4


class TestReportedStatus:
    async def test_a_check_may_report_its_own_word(self) -> None:
        async def draining() -> None:
            raise NotReady("draining")

        async def fine() -> None:
            return None

        result = await run_checks({"a": fine, "b": draining})

        assert result.model_dump() == {
            "status": "unavailable",
            "checks": {"a": "ok", "b": "draining"},
        }
