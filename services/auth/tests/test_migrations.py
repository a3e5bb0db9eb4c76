"""The auth schema's Alembic history: it matches the models and runs down and up cleanly."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import Connection
from sqlalchemy.ext.asyncio import create_async_engine

from auth_service.models import SCHEMA, AuthBase
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
    return list(compare_metadata(context, AuthBase.metadata))


class TestMigrations:
    async def test_models_and_migrations_agree(self, database_url: str) -> None:
        engine = create_async_engine(database_url)
        try:
            async with engine.connect() as connection:
                differences = await connection.run_sync(_differences)
        finally:
            await engine.dispose()
        assert differences == []

    def test_downgrade_to_base_and_upgrade_again(self, scratch_database: str) -> None:
        migrate(scratch_database, ALEMBIC_INI)
        downgrade(scratch_database, ALEMBIC_INI, "base")
        migrate(scratch_database, ALEMBIC_INI)
