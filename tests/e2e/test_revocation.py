"""Instant revocation across services: a change in auth stops the affected access tokens at the
activity service within about a second (auth's outbox, its relay, the revocation stream, the
activity service's feed), and a service that starts afterwards refuses them too."""

from __future__ import annotations

import time
from typing import Any

import httpx
from asgi_lifespan import LifespanManager

from activity_service.main import create_app as create_activity_app
from common.testing import assert_error

from .conftest import PASSWORD, Stack

API = "/api/v1"
WITHIN_SECONDS = 1.0


async def sign_up(auth: httpx.AsyncClient, email: str) -> tuple[str, dict[str, str]]:
    created = await auth.post(f"{API}/auth/register", json={"email": email, "password": PASSWORD})
    login = await auth.post(f"{API}/auth/login", json={"email": email, "password": PASSWORD})
    return created.json()["id"], {"Authorization": f"Bearer {login.json()['access_token']}"}


async def refused_after(activity: httpx.AsyncClient, headers: dict[str, str]) -> float:
    """Seconds until the activity service refuses the token as revoked."""
    started = time.monotonic()
    while time.monotonic() - started < 5:
        response = await activity.get(f"{API}/activity/me", headers=headers)
        if response.status_code == 401:
            assert_error(response, 401, "token_revoked")
            return time.monotonic() - started
        assert response.status_code == 200, response.text
    raise AssertionError("the token was still accepted after 5 s")


class TestRevocationReachesOtherServices:
    async def test_a_deactivated_account_is_refused_by_activity_within_a_second(
        self, stack: Stack
    ) -> None:
        async with httpx.AsyncClient(base_url=stack.auth_url) as auth:
            user_id, headers = await sign_up(auth, "dana@example.com")
            assert (
                await stack.activity.get(f"{API}/activity/me", headers=headers)
            ).status_code == 200
            deactivated = await auth.patch(
                f"{API}/users/{user_id}", json={"is_active": False}, headers=stack.admin_headers
            )
            assert deactivated.status_code == 200
            assert await refused_after(stack.activity, headers) < WITHIN_SECONDS

    async def test_sign_out_everywhere_is_refused_by_activity_within_a_second(
        self, stack: Stack
    ) -> None:
        async with httpx.AsyncClient(base_url=stack.auth_url) as auth:
            _, headers = await sign_up(auth, "eve@example.com")
            assert (
                await stack.activity.get(f"{API}/activity/me", headers=headers)
            ).status_code == 200
            ended = await auth.post(f"{API}/auth/logout-all", headers=headers)
            assert ended.status_code == 204
            assert await refused_after(stack.activity, headers) < WITHIN_SECONDS

    async def test_a_service_started_afterwards_refuses_the_token_too(self, stack: Stack) -> None:
        async with httpx.AsyncClient(base_url=stack.auth_url) as auth:
            _, headers = await sign_up(auth, "fay@example.com")
            await auth.post(f"{API}/auth/logout-all", headers=headers)
            await refused_after(stack.activity, headers)
        late = create_activity_app(stack.activity_settings)
        async with (
            LifespanManager(late),
            httpx.AsyncClient(
                transport=httpx.ASGITransport(app=late), base_url="http://late"
            ) as client,
        ):
            response: Any = await client.get(f"{API}/activity/me", headers=headers)
            assert_error(response, 401, "token_revoked")
