"""The gateway app: its own routes (health, metrics, docs), and a user's first steps through it
to the real auth service (its own database, Redis and signing key), served on loopback."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager

import httpx
import pytest
from websockets.asyncio.client import connect
from websockets.exceptions import InvalidStatus

from auth_service.main import create_app as create_auth_app
from auth_service.settings import AuthSettings
from common.metrics import UNMATCHED
from common.testing import assert_error, serve_app

GatewayOpener = Callable[..., AbstractAsyncContextManager[httpx.AsyncClient]]
PASSWORD = "correct horse battery staple"


class TestOwnRoutes:
    async def test_liveness_and_readiness(self, client: httpx.AsyncClient) -> None:
        live = await client.get("/health")
        ready = await client.get("/health/ready")

        assert (live.status_code, ready.status_code) == (200, 200)

    async def test_forwarded_requests_are_measured(self, client: httpx.AsyncClient) -> None:
        await client.get("/api/v1/things/1")

        metrics = (await client.get("/metrics")).text
        # Under one label for now (per-upstream metrics are to come), never the raw path.
        counted = [line for line in metrics.splitlines() if line.startswith("http_requests_total")]
        assert any(f'handler="{UNMATCHED}"' in line for line in counted)
        assert "/api/v1/things/1" not in metrics

    async def test_the_docs_describe_the_gateway(self, client: httpx.AsyncClient) -> None:
        document = (await client.get("/openapi.json")).json()

        assert document["info"]["title"] == "Gateway"
        assert set(document["paths"]) == {"/health", "/health/ready"}
        assert (await client.get("/docs")).status_code == 200

    async def test_websockets_are_refused(self, client: httpx.AsyncClient) -> None:
        url = str(client.base_url).replace("http://", "ws://") + "/api/v1/things/socket"

        with pytest.raises(InvalidStatus) as refused:
            async with connect(url):
                pass
        assert refused.value.response.status_code == 403


@pytest.fixture
async def auth_url(clean_database: str, redis_url: str, redis_prefix: str) -> AsyncIterator[str]:
    settings = AuthSettings(
        _env_file=None,
        database_url=clean_database,
        redis_url=redis_url,
        redis_key_prefix=redis_prefix,
        environment="test",
        access_log=False,
        log_level="WARNING",
        audit_relay_enabled=False,
        mail_backend="log",
    )
    async with serve_app(create_auth_app(settings), lifespan=True) as url:
        yield url


class TestThroughAuth:
    async def test_register_sign_in_and_read_ones_account(
        self, gateway: GatewayOpener, auth_url: str
    ) -> None:
        routes = {"/api/v1/auth": "auth", "/.well-known": "auth"}
        async with gateway({"auth": {"url": auth_url}}, gateway_routes=routes) as client:
            created = await client.post(
                "/api/v1/auth/register",
                json={"email": "ada@example.com", "password": PASSWORD},
                headers={"X-Request-ID": "journey-1"},
            )
            tokens = await client.post(
                "/api/v1/auth/login", json={"email": "ada@example.com", "password": PASSWORD}
            )
            access = tokens.json()["access_token"]
            me = await client.get("/api/v1/auth/me", headers={"Authorization": f"Bearer {access}"})
            anonymous = await client.get("/api/v1/auth/me")
            keys = await client.get("/.well-known/jwks.json")

        assert created.status_code == 201, created.text
        assert created.headers["x-request-id"] == "journey-1"
        assert me.json()["email"] == "ada@example.com"
        error = assert_error(anonymous, 401, "not_authenticated")
        assert error["request_id"] == anonymous.headers["x-request-id"]
        assert anonymous.headers["www-authenticate"].startswith("Bearer")
        assert keys.json()["keys"][0]["kty"] == "RSA"
