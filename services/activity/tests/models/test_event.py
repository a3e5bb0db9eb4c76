"""`activity.event` is append-only in the database itself: UPDATE, DELETE and TRUNCATE are
refused for every role, the superuser too, even with triggers off for replication."""

from __future__ import annotations

from collections.abc import AsyncIterator

import asyncpg
import pytest

from activity_service.settings import ActivitySettings

from ..conftest import MakeEvent, Sql, Store

CHANGES = [
    "UPDATE activity.event SET actor_id = 'forged' WHERE seq = 1",
    "DELETE FROM activity.event WHERE seq = 1",
    "TRUNCATE activity.event",
]


@pytest.fixture
async def superuser(
    settings: ActivitySettings, store: Store, make_event: MakeEvent
) -> AsyncIterator[asyncpg.Connection]:
    """A superuser's connection to a table holding one event."""
    await store([make_event(actor_id="original")])
    connection = await asyncpg.connect(settings.database_url.replace("+asyncpg", ""))
    try:
        assert await connection.fetchval(
            "SELECT rolsuper FROM pg_roles WHERE rolname = current_user"
        )
        yield connection
    finally:
        await connection.close()


class TestAppendOnly:
    @pytest.mark.parametrize("statement", CHANGES)
    async def test_changes_are_refused_even_for_the_superuser(
        self, superuser: asyncpg.Connection, statement: str, sql: Sql
    ) -> None:
        operation = statement.split(maxsplit=1)[0]
        with pytest.raises(asyncpg.RaiseError, match=f"append-only: {operation} is not allowed"):
            await superuser.execute(statement)
        rows = await sql("SELECT seq, actor_id FROM activity.event")
        assert [(r["seq"], r["actor_id"]) for r in rows] == [(1, "original")]

    @pytest.mark.parametrize("statement", CHANGES)
    async def test_replica_mode_does_not_silence_the_triggers(
        self, superuser: asyncpg.Connection, statement: str
    ) -> None:
        """`session_replication_role = replica` skips ordinary triggers, not ENABLE ALWAYS."""
        await superuser.execute("SET session_replication_role = replica")
        with pytest.raises(asyncpg.RaiseError, match="append-only"):
            await superuser.execute(statement)

    async def test_the_triggers_are_enabled_always(self, sql: Sql) -> None:
        rows = await sql(
            "SELECT tgname, tgenabled::text AS state FROM pg_trigger "
            "WHERE tgrelid = 'activity.event'::regclass AND NOT tgisinternal ORDER BY tgname"
        )
        assert [(r["tgname"], r["state"]) for r in rows] == [
            ("event_refuse_truncate", "A"),
            ("event_refuse_update_delete", "A"),
        ]

    async def test_appending_goes_on_after_a_refused_change(
        self, superuser: asyncpg.Connection, store: Store, make_event: MakeEvent
    ) -> None:
        with pytest.raises(asyncpg.RaiseError):
            await superuser.execute(CHANGES[0])
        assert (await store([make_event()])).head_seq == 2
