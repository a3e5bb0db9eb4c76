"""`create_stateless_app`: the shape of a service (middleware, error handlers, health, metrics,
docs) for a process with no database or Redis of its own, such as the gateway. Its settings
point at a database and a Redis that do not exist: the app must not need them."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from dataclasses import dataclass
from typing import Annotated, Any

import httpx
import pytest
from fastapi import APIRouter, Depends, FastAPI

from common.app import create_stateless_app
from common.dependencies import runtime_dependency
from common.runtime import StatelessCore, service_core
from common.settings import ServiceSettings
from common.testing import assert_error

ClientOpener = Callable[[FastAPI], AbstractAsyncContextManager[httpx.AsyncClient]]

NOWHERE_DATABASE = "postgresql+asyncpg://postgres@127.0.0.1:1/nothing"
NOWHERE_REDIS = "redis://127.0.0.1:1/0"


@dataclass(frozen=True)
class EchoRuntime:
    core: StatelessCore
    events: list[str]


EchoDep = Annotated[EchoRuntime, Depends(runtime_dependency(EchoRuntime))]
router = APIRouter(prefix="/echo")


@router.get("", summary="The service name the runtime was built with")
async def echo(runtime: EchoDep) -> dict[str, str]:
    return {"service": runtime.core.settings.service_name}


@router.get("/large", summary="An answer worth compressing")
async def large() -> dict[str, str]:
    return {"text": "compressible " * 1000}


def make_settings(**overrides: Any) -> ServiceSettings:
    values: dict[str, Any] = {
        "service_name": "stateless-test",
        "environment": "test",
        "database_url": NOWHERE_DATABASE,
        "redis_url": NOWHERE_REDIS,
        "access_log": False,
    }
    values.update(overrides)
    return ServiceSettings(_env_file=None, **values)


def make_app(
    events: list[str] | None = None, *, compress: bool = True, **overrides: Any
) -> FastAPI:
    log = events if events is not None else []

    @asynccontextmanager
    async def runtime(core: StatelessCore) -> AsyncIterator[EchoRuntime]:
        log.append("built")
        yield EchoRuntime(core=core, events=log)
        log.append("closed")

    return create_stateless_app(
        make_settings(**overrides),
        title="Stateless test app",
        description="An app without a database, built by the shared factory.",
        routers=[router],
        runtime=runtime,
        compress=compress,
    )


@pytest.fixture
async def client(running: ClientOpener) -> AsyncIterator[httpx.AsyncClient]:
    async with running(make_app()) as client:
        yield client


class TestLifespan:
    async def test_the_runtime_is_built_on_the_settings_and_closed_at_shutdown(
        self, running: ClientOpener
    ) -> None:
        events: list[str] = []
        app = make_app(events, service_name="edge")
        async with running(app) as client:
            response = await client.get("/api/v1/echo")
            events.append("served")

        assert response.json() == {"service": "edge"}
        assert events == ["built", "served", "closed"]

    async def test_the_runtime_gets_the_apps_metrics_registry(self, running: ClientOpener) -> None:
        seen: list[StatelessCore] = []

        @asynccontextmanager
        async def runtime(core: StatelessCore) -> AsyncIterator[None]:
            seen.append(core)
            yield

        app = create_stateless_app(make_settings(), title="t", description="d", runtime=runtime)
        async with running(app) as client:
            await client.get("/health")
            metrics = (await client.get("/metrics")).text

        assert seen[0].metrics is not None
        assert 'handler="/health"' in metrics

    async def test_there_is_no_service_core(self, running: ClientOpener) -> None:
        app = make_app()
        async with running(app):
            with pytest.raises(RuntimeError, match="has not started"):
                service_core(app)


class TestHealth:
    async def test_liveness_and_readiness_answer_without_a_database_or_redis(
        self, client: httpx.AsyncClient
    ) -> None:
        live = await client.get("/health")
        ready = await client.get("/health/ready")

        assert live.json() == {"status": "ok", "checks": {}}
        assert (ready.status_code, ready.json()) == (200, {"status": "ok", "checks": {}})


class TestSharedShape:
    async def test_the_shared_middleware_stamps_every_answer(
        self, client: httpx.AsyncClient
    ) -> None:
        response = await client.get("/api/v1/echo", headers={"X-Request-ID": "edge-1234"})

        assert response.headers["x-request-id"] == "edge-1234"
        assert response.headers["x-content-type-options"] == "nosniff"
        assert "server-timing" in response.headers

    async def test_an_unknown_path_is_the_json_404(self, client: httpx.AsyncClient) -> None:
        assert_error(await client.get("/nowhere"), 404, "not_found")

    async def test_api_operations_document_no_database_outage(self) -> None:
        """No database, no `database_busy`: an API operation lists the shared refusals only."""
        responses = make_app().openapi()["paths"]["/api/v1/echo"]["get"]["responses"]

        assert "413" in responses
        assert "503" not in responses

    async def test_docs_are_served(self, client: httpx.AsyncClient) -> None:
        statuses = [(await client.get(p)).status_code for p in ("/docs", "/openapi.json")]

        assert statuses == [200, 200]


class TestCompression:
    @pytest.mark.parametrize(("compress", "encoding"), [(True, "gzip"), (False, None)])
    async def test_gzip_is_the_apps_choice(
        self, running: ClientOpener, compress: bool, encoding: str | None
    ) -> None:
        """An app that relays answers others made (the gateway) passes them as they are."""
        async with running(make_app(compress=compress)) as client:
            response = await client.get("/api/v1/echo/large", headers={"Accept-Encoding": "gzip"})

        assert response.headers.get("content-encoding") == encoding
        assert response.json() == {"text": "compressible " * 1000}
        assert response.headers["x-request-id"]
