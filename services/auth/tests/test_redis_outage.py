"""What the service does while Redis is unreachable: login follows LOGIN_THROTTLE_FAIL_OPEN,
access tokens follow TOKEN_REVOCATION_FAIL_OPEN (this app never read the revocations, so it
cannot know whether a token was revoked), everything else keeps working, readiness reports the
outage."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from asgi_lifespan import LifespanManager

from auth_service.main import create_app
from auth_service.settings import AuthSettings
from common.testing import assert_error, free_port

API = "/api/v1"


@pytest.fixture
async def outage_client(
    settings: AuthSettings, request: pytest.FixtureRequest, app: Any
) -> AsyncIterator[httpx.AsyncClient]:
    """A second app on the same database whose Redis is a closed port. (`app` ran first, so
    the database is seeded and an account can be made through `client`.)"""
    fail_open = getattr(request, "param", False)
    broken = settings.model_copy(
        update={
            "redis_url": f"redis://127.0.0.1:{free_port()}/0",
            "login_throttle_fail_open": fail_open,
            "token_revocation_fail_open": fail_open,
        }
    )
    outage_app = create_app(broken)
    async with LifespanManager(outage_app):
        transport = httpx.ASGITransport(app=outage_app)
        async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as http:
            yield http


class TestRedisOutage:
    async def test_login_fails_closed_by_default(
        self, outage_client: httpx.AsyncClient, register: Any
    ) -> None:
        account = await register()
        response = await outage_client.post(
            f"{API}/auth/login", json={"email": account.email, "password": account.password}
        )
        assert_error(response, 503, "login_unavailable")

    @pytest.mark.parametrize("outage_client", [True], indirect=True)
    async def test_login_can_be_set_to_fail_open(
        self, outage_client: httpx.AsyncClient, register: Any
    ) -> None:
        account = await register()
        response = await outage_client.post(
            f"{API}/auth/login", json={"email": account.email, "password": account.password}
        )
        assert response.status_code == 200
        assert response.json()["access_token"]

    async def test_registration_does_not_need_redis(
        self, outage_client: httpx.AsyncClient, password: str
    ) -> None:
        created = await outage_client.post(
            f"{API}/auth/register", json={"email": "offline@example.com", "password": password}
        )
        assert created.status_code == 201

    async def test_tokens_are_refused_by_default_while_revocations_are_unknown(
        self, outage_client: httpx.AsyncClient, register: Any
    ) -> None:
        account = await register()
        response = await outage_client.get(f"{API}/auth/me", headers=account.headers)
        assert_error(response, 503, "revocations_unavailable")

    @pytest.mark.parametrize("outage_client", [True], indirect=True)
    async def test_profile_and_password_change_work_when_set_to_fail_open(
        self, outage_client: httpx.AsyncClient, register: Any
    ) -> None:
        account = await register()
        me = await outage_client.put(
            f"{API}/auth/me", json={"full_name": "Still Here"}, headers=account.headers
        )
        assert me.status_code == 200
        assert me.json()["full_name"] == "Still Here"
        changed = await outage_client.put(
            f"{API}/auth/me/password",
            json={"current_password": account.password, "new_password": "changed while down"},
            headers=account.headers,
        )
        assert changed.status_code == 204

    async def test_readiness_reports_redis_down(self, outage_client: httpx.AsyncClient) -> None:
        response = await outage_client.get("/health/ready")
        assert response.status_code == 503
        assert response.json() == {
            "status": "unavailable",
            "checks": {"database": "ok", "redis": "unavailable"},
        }

    async def test_password_reset_requests_keep_their_single_answer(
        self, outage_client: httpx.AsyncClient, register: Any
    ) -> None:
        account = await register()
        for email in (account.email, "nobody@example.com"):
            response = await outage_client.post(
                f"{API}/auth/password-reset/request", json={"email": email}
            )
            assert response.status_code == 202
