"""The activity schema's Alembic history: it matches the models, installs the append-only
triggers, and runs down and up cleanly."""

from __future__ import annotations

import asyncio

import asyncpg

from common.testing.contracts import MigrationContract, libpq_url
from common.testing.plugin import downgrade, migrate


async def _catalog(url: str) -> tuple[list[tuple[str, str]], list[str]]:
    """(trigger name, tgenabled) of `activity.event`, and the functions of the schema."""
    connection = await asyncpg.connect(libpq_url(url))
    try:
        triggers = await connection.fetch(
            "SELECT t.tgname, t.tgenabled::text FROM pg_trigger t JOIN pg_class c "
            "ON c.oid = t.tgrelid JOIN pg_namespace n ON n.oid = c.relnamespace "
            "WHERE n.nspname = 'activity' AND c.relname = 'event' AND NOT t.tgisinternal "
            "ORDER BY 1"
        )
        functions = await connection.fetch(
            "SELECT p.proname FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace "
            "WHERE n.nspname = 'activity' ORDER BY 1"
        )
    finally:
        await connection.close()
    return [(r[0], r[1]) for r in triggers], [r[0] for r in functions]


class TestMigrations(MigrationContract):
    service = "activity"

    async def test_the_append_only_triggers_are_enabled_always(self, database_url: str) -> None:
        triggers, functions = await _catalog(database_url)
        assert triggers == [("event_refuse_truncate", "A"), ("event_refuse_update_delete", "A")]
        assert functions == ["event_append_only"]

    def test_downgrade_removes_the_triggers_and_upgrade_puts_them_back(
        self, scratch_database: str
    ) -> None:
        migrate(scratch_database, self.service)
        downgrade(scratch_database, self.service, "base")
        assert asyncio.run(_catalog(scratch_database)) == ([], [])
        migrate(scratch_database, self.service)
        triggers, _ = asyncio.run(_catalog(scratch_database))
        assert [state for _, state in triggers] == ["A", "A"]
