"""The activity schema's Alembic history: it matches the models, installs the append-only
triggers, and runs down and up cleanly."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Iterator
from pathlib import Path

import asyncpg
import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import Connection
from sqlalchemy.ext.asyncio import create_async_engine

from activity_service.models import SCHEMA, ActivityBase
from common.testing.plugin import create_database, downgrade, drop_database, migrate

ALEMBIC_INI = Path(__file__).resolve().parents[1] / "alembic.ini"


@pytest.fixture
def scratch_database() -> Iterator[str]:
    name = f"test_migrations_{uuid.uuid4().hex[:8]}"
    url = create_database(name)
    try:
        yield url
    finally:
        drop_database(name)


def _differences(connection: Connection) -> list[object]:
    context = MigrationContext.configure(
        connection,
        opts={
            "include_schemas": True,
            "version_table_schema": SCHEMA,
            "include_object": lambda obj, name, type_, reflected, compare_to: (
                type_ != "table" or obj.schema == SCHEMA
            ),
            "compare_type": True,
        },
    )
    return list(compare_metadata(context, ActivityBase.metadata))


async def _catalog(url: str) -> tuple[list[tuple[str, str]], list[str]]:
    """(trigger name, tgenabled) of `activity.event`, and the functions of the schema."""
    connection = await asyncpg.connect(url.replace("+asyncpg", ""))
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


class TestMigrations:
    async def test_models_and_migrations_agree(self, database_url: str) -> None:
        engine = create_async_engine(database_url)
        try:
            async with engine.connect() as connection:
                differences = await connection.run_sync(_differences)
        finally:
            await engine.dispose()
        assert differences == []

    async def test_the_append_only_triggers_are_enabled_always(self, database_url: str) -> None:
        triggers, functions = await _catalog(database_url)
        assert triggers == [("event_refuse_truncate", "A"), ("event_refuse_update_delete", "A")]
        assert functions == ["event_append_only"]

    def test_downgrade_to_base_and_upgrade_again(self, scratch_database: str) -> None:
        migrate(scratch_database, ALEMBIC_INI)
        downgrade(scratch_database, ALEMBIC_INI, "base")
        assert asyncio.run(_catalog(scratch_database)) == ([], [])
        migrate(scratch_database, ALEMBIC_INI)
        triggers, _ = asyncio.run(_catalog(scratch_database))
        assert [state for _, state in triggers] == ["A", "A"]
