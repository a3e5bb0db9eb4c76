"""`run_migrations`, the body of every service's Alembic `env.py`, as the test harness runs it:
each service's history is applied into its own schema, with its version table beside it."""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine


class TestVersionTables:
    async def test_each_service_keeps_its_version_table_in_its_own_schema(
        self, engine: AsyncEngine, alembic_configs: list[Path]
    ) -> None:
        async with engine.connect() as connection:
            rows = await connection.execute(
                text(
                    "SELECT table_schema FROM information_schema.tables "
                    "WHERE table_name = 'alembic_version'"
                )
            )
            schemas = sorted(row.table_schema for row in rows)

        assert len(schemas) == len(alembic_configs)
        assert len(set(schemas)) == len(schemas)
        assert "public" not in schemas

    async def test_every_history_is_at_a_revision(self, engine: AsyncEngine) -> None:
        async with engine.connect() as connection:
            schemas = (
                await connection.execute(
                    text(
                        "SELECT table_schema FROM information_schema.tables "
                        "WHERE table_name = 'alembic_version'"
                    )
                )
            ).scalars()
            revisions = [
                (
                    await connection.execute(
                        # The schema names come from the catalogue, not from input.
                        text(f'SELECT version_num FROM "{schema}".alembic_version')  # noqa: S608
                    )
                ).scalar_one()
                for schema in list(schemas)
            ]

        assert revisions
        assert all(revisions)
