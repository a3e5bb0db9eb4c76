"""The audit trail end to end: auth's outbox, its relay, Redis Streams, the activity consumer
process and the activity API, with a Redis outage in the middle."""

from __future__ import annotations

import asyncio
from typing import Any

import httpx
from sqlalchemy import func, select

from auth_service.models import AuditOutbox
from common.runtime import service_core
from common.testing import RedisServer

PASSWORD = "correct horse battery staple"


async def activity(stack: Any) -> list[dict[str, Any]]:
    """Every stored event, oldest first, through the activity API."""
    items: list[dict[str, Any]] = []
    params: dict[str, Any] = {"limit": 100}
    while True:
        page = await stack.activity.get(
            "/api/v1/activity", params=params, headers=stack.admin_headers
        )
        assert page.status_code == 200, page.text
        items += page.json()["items"]
        if page.json()["next_cursor"] is None:
            return list(reversed(items))
        params["cursor"] = page.json()["next_cursor"]


async def outbox_size(stack: Any) -> int:
    async with service_core(stack.auth).database.sessionmaker() as session:
        return int(await session.scalar(select(func.count()).select_from(AuditOutbox)) or 0)


async def settle(stack: Any, expected: int) -> list[dict[str, Any]]:
    """Wait until `expected` events are stored and the outbox is empty."""
    stored: list[dict[str, Any]] = []
    for _ in range(300):
        stored = await activity(stack)
        if len(stored) >= expected and await outbox_size(stack) == 0:
            return stored
        if stack.consumer.poll() is not None:
            raise AssertionError(stack.consumer.stderr.read().decode())
        await asyncio.sleep(0.05)
    raise AssertionError(f"{len(stored)} events stored, {expected} expected")


class TestRedisOutage:
    async def test_actions_during_the_outage_all_reach_the_log_exactly_once(
        self, stack: Any, redis_server: RedisServer
    ) -> None:
        async with httpx.AsyncClient(base_url=stack.auth_url) as auth:
            await auth.post(
                "/api/v1/auth/register", json={"email": "carol@example.com", "password": PASSWORD}
            )
            login = await auth.post(
                "/api/v1/auth/login", json={"email": "carol@example.com", "password": PASSWORD}
            )
            carol = {"Authorization": f"Bearer {login.json()['access_token']}"}
            # admin created + admin login + carol registered + carol login
            before = await settle(stack, 4)

            redis_server.stop()
            answers = [
                await auth.post(
                    "/api/v1/auth/register",
                    json={"email": "dave@example.com", "password": PASSWORD},
                ),
                await auth.post(
                    "/api/v1/auth/register",
                    json={"email": "erin@example.com", "password": PASSWORD},
                ),
                await auth.put("/api/v1/auth/me", json={"full_name": "Carol"}, headers=carol),
                await auth.put(
                    "/api/v1/auth/me/password",
                    json={"current_password": PASSWORD, "new_password": "changed during outage"},
                    headers=carol,
                ),
            ]
            assert [a.status_code for a in answers] == [201, 201, 200, 204]
            assert await outbox_size(stack) == 4  # waiting for Redis, not lost
            redis_server.start()

            after = await settle(stack, len(before) + 4)

        new = after[len(before) :]
        assert [e["action"] for e in new] == [
            "auth.user.registered",
            "auth.user.registered",
            "auth.profile.updated",
            "auth.password.changed",
        ]
        ids = [e["id"] for e in after]
        assert len(ids) == len(set(ids))
        verified = await stack.activity.get("/api/v1/activity/verify", headers=stack.admin_headers)
        assert verified.json()["ok"] is True
        assert verified.json()["checked"] == len(after)
