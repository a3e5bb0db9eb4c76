"""A burst of concurrent sign-ins over real HTTP: every request waits its turn for a Redis
connection instead of failing, and readiness keeps saying yes while Redis answers.

Before the pool was sized and blocking, about a hundred simultaneous logins made redis-py raise
"Too many connections", which the throttle took for an outage (503 `login_unavailable`) and
readiness for a dead Redis (503)."""

from __future__ import annotations

import asyncio
from collections import Counter
from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from common.runtime import service_core
from common.testing import assert_error, serve_app

API = "/api/v1"
BURST = 160
ROUNDS = 2
ACCOUNTS = 4


@pytest.fixture
def settings_overrides(request: pytest.FixtureRequest) -> dict[str, Any]:
    """Throttling out of the way (half the attempts fail on purpose), and the database's pool
    wait long enough for a burst on a two-core test machine: this is about Redis."""
    return {
        "login_max_failures_per_account": 1_000_000,
        "login_max_failures_per_ip": 1_000_000,
        # The burst is about the Redis pool: every login must reach its password check.
        "password_hash_max_waiting": 1_000,
        "db_pool_timeout": 120,
        **getattr(request, "param", {}),
    }


async def _probe_readiness(
    http: httpx.AsyncClient, burst: asyncio.Future[list[httpx.Response]]
) -> list[tuple[int, Any]]:
    """Ask `/health/ready` every 50 ms for as long as the burst runs."""
    answers: list[tuple[int, Any]] = []
    while not burst.done():
        response = await http.get("/health/ready")
        answers.append((response.status_code, response.json()))
        await asyncio.sleep(0.05)
    return answers


class TestLoginBurst:
    @pytest.mark.parametrize(
        "settings_overrides",
        [
            pytest.param({}, id="default-pool"),
            # A pool far smaller than the burst: nearly every request has to wait for a
            # connection another one returns.
            pytest.param({"redis_max_connections": 3}, id="tiny-pool"),
        ],
        indirect=True,
    )
    async def test_no_request_fails_and_readiness_stays_ok(
        self, app: FastAPI, register: Any, password: str
    ) -> None:
        accounts = [await register(f"burst{n}@example.com") for n in range(ACCOUNTS)]
        # Idle connections are dropped well before uvicorn's 5 s keep-alive timeout, so none
        # is reused at the moment the server closes it (a ReadError that says nothing).
        limits = httpx.Limits(
            max_connections=None, max_keepalive_connections=None, keepalive_expiry=1.0
        )
        async with (
            serve_app(app) as base_url,
            httpx.AsyncClient(base_url=base_url, timeout=120, limits=limits) as http,
        ):
            for _ in range(ROUNDS):
                attempts = [
                    {
                        "email": accounts[n % ACCOUNTS].email,
                        "password": password if n % 2 == 0 else "not the password at all",
                    }
                    for n in range(BURST)
                ]
                burst = asyncio.ensure_future(
                    asyncio.gather(*(http.post(f"{API}/auth/login", json=a) for a in attempts))
                )
                probes = await _probe_readiness(http, burst)
                responses = await burst

                statuses = Counter(r.status_code for r in responses)
                assert statuses == {200: BURST // 2, 401: BURST // 2}, [
                    r.text for r in responses if r.status_code not in (200, 401)
                ][:3]
                assert probes, "readiness was never asked during the burst"
                assert all(
                    answer == (200, {"status": "ok", "checks": {"database": "ok", "redis": "ok"}})
                    for answer in probes
                ), probes


class TestSaturatedPool:
    """A pool that stays saturated past REDIS_POOL_TIMEOUT is back-pressure: 503 `redis_busy`
    with Retry-After, whatever the throttle does during an outage (refusing logins as
    `login_unavailable`, or skipping the count when set to fail open)."""

    @pytest.mark.parametrize(
        "settings_overrides",
        [
            pytest.param({"redis_max_connections": 1, "redis_pool_timeout": 0.1}, id="fail-closed"),
            pytest.param(
                {
                    "redis_max_connections": 1,
                    "redis_pool_timeout": 0.1,
                    "login_throttle_fail_open": True,
                },
                id="fail-open",
            ),
        ],
        indirect=True,
    )
    async def test_login_is_503_redis_busy(
        self, app: FastAPI, client: httpx.AsyncClient, register: Any, password: str
    ) -> None:
        account = await register()
        pool = service_core(app).redis.connection_pool
        held = await pool.get_connection()  # type: ignore[no-untyped-call]  # redis-py leaves it unannotated
        try:
            response = await client.post(
                f"{API}/auth/login", json={"email": account.email, "password": password}
            )
        finally:
            await pool.release(held)

        assert_error(response, 503, "redis_busy")
        assert response.headers["retry-after"] == "1"
