"""The service and its consumer run as a database role that may only read and add rows of the
`activity` schema (the grants of docs/runbooks.md): the trail cannot be changed or emptied by
that role, whatever the triggers say, and it needs nothing more to do its work."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import asyncpg
import httpx
import pytest
from asgi_lifespan import LifespanManager

from activity_service.consumer import create_consumer, create_redis
from activity_service.main import create_app
from activity_service.settings import ActivitySettings
from common.db import Database
from common.security import JwksSource
from common.testing.contracts import LeastPrivilegeContract

from .conftest import API, Caller, MakeEvent, Trail


class TestLeastPrivilege(LeastPrivilegeContract):
    service = "activity"
    grants = "SELECT, INSERT"

    @pytest.fixture
    def restricted_settings(
        self, settings: ActivitySettings, restricted_url: str
    ) -> ActivitySettings:
        return settings.model_copy(update={"database_url": restricted_url})

    async def test_the_consumer_and_the_api_need_only_select_and_insert(
        self,
        restricted_settings: ActivitySettings,
        trail: Trail,
        make_event: MakeEvent,
        auditor: Caller,
        jwks_document: dict[str, Any],
    ) -> None:
        events = [make_event() for _ in range(5)]
        await trail.publish(*events, events[0])  # one redelivered
        database = Database(restricted_settings)
        redis = create_redis(restricted_settings)
        try:
            consumer = create_consumer(
                restricted_settings, redis=redis, database=database, name="restricted"
            )
            await consumer.ensure_group()
            await consumer.step()
        finally:
            await redis.aclose()
            await database.dispose()
        assert await trail.stored() == [e.id for e in events]
        assert await trail.pending() == {}

        def jwks_source(*_: object) -> JwksSource:
            async def fetch() -> Mapping[str, Any]:
                return jwks_document

            return fetch

        app = create_app(restricted_settings, jwks_source=jwks_source)
        async with LifespanManager(app):
            transport = httpx.ASGITransport(app=app)
            async with httpx.AsyncClient(transport=transport, base_url="http://t") as client:
                listed = await client.get(f"{API}/activity", headers=auditor.headers)
                assert [i["seq"] for i in listed.json()["items"]] == [5, 4, 3, 2, 1]
                one = await client.get(f"{API}/activity/{events[2].id}", headers=auditor.headers)
                assert one.json()["seq"] == 3
                verified = await client.get(f"{API}/activity/verify", headers=auditor.headers)
                assert verified.json()["ok"] is True
                exported = await client.get(f"{API}/activity/export", headers=auditor.headers)
                assert len(exported.text.splitlines()) == 5

    @pytest.mark.parametrize(
        "statement",
        [
            "UPDATE activity.event SET actor_id = 'forged'",
            "DELETE FROM activity.event",
            "TRUNCATE activity.event",
        ],
    )
    async def test_the_role_cannot_change_or_remove_events(
        self, restricted: asyncpg.Connection, statement: str
    ) -> None:
        with pytest.raises(asyncpg.InsufficientPrivilegeError):
            await restricted.execute(statement)

    async def test_the_role_cannot_drop_the_triggers(self, restricted: asyncpg.Connection) -> None:
        with pytest.raises(asyncpg.InsufficientPrivilegeError):
            await restricted.execute("DROP TRIGGER event_refuse_update_delete ON activity.event")
