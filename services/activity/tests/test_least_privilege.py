"""The service and its consumer run as a database role that may only read and add rows of the
`activity` schema (the grants of docs/runbooks.md): the trail cannot be changed or emptied by
that role, whatever the triggers say, and it needs nothing more to do its work."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Mapping
from typing import Any

import asyncpg
import httpx
import pytest
from asgi_lifespan import LifespanManager
from sqlalchemy.engine import make_url

from activity_service.consumer import create_consumer, create_redis
from activity_service.main import create_app
from activity_service.settings import ActivitySettings
from common.db import Database
from common.security import JwksSource

from .conftest import API, Caller, MakeEvent, Trail


async def _admin(database_url: str, *statements: str) -> None:
    connection = await asyncpg.connect(database_url.replace("+asyncpg", ""))
    try:
        for statement in statements:
            await connection.execute(statement)
    finally:
        await connection.close()


@pytest.fixture
async def app_role(clean_database: str) -> AsyncIterator[str]:
    """A login role with the runbook's grants on the `activity` schema, dropped afterwards."""
    role = f"activity_app_{uuid.uuid4().hex[:8]}"
    await _admin(
        clean_database,
        f"CREATE ROLE {role} LOGIN",
        f"GRANT USAGE ON SCHEMA activity TO {role}",
        f"GRANT SELECT, INSERT ON ALL TABLES IN SCHEMA activity TO {role}",
    )
    try:
        yield role
    finally:
        await _admin(clean_database, f"DROP OWNED BY {role}", f"DROP ROLE {role}")


@pytest.fixture
def restricted_settings(settings: ActivitySettings, app_role: str) -> ActivitySettings:
    url = make_url(settings.database_url).set(username=app_role)
    return settings.model_copy(update={"database_url": url.render_as_string(hide_password=False)})


@pytest.fixture
async def restricted(restricted_settings: ActivitySettings) -> AsyncIterator[asyncpg.Connection]:
    connection = await asyncpg.connect(restricted_settings.database_url.replace("+asyncpg", ""))
    try:
        yield connection
    finally:
        await connection.close()


class TestLeastPrivilege:
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

    @pytest.mark.parametrize(
        "statement",
        [
            "ALTER TABLE activity.event DISABLE TRIGGER USER",
            "DROP TRIGGER event_refuse_update_delete ON activity.event",
            "DROP TABLE activity.event",
            "CREATE TABLE activity.sneaky (id int)",
        ],
    )
    async def test_the_role_cannot_get_the_triggers_out_of_the_way(
        self, restricted: asyncpg.Connection, statement: str
    ) -> None:
        with pytest.raises(asyncpg.InsufficientPrivilegeError):
            await restricted.execute(statement)
