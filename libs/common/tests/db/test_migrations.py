"""`common.db.migrations`, the one Alembic environment, as the test harness runs it: each
section of `alembic.ini` is a service whose history is applied into its own schema, with its
version table beside it."""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from common.db.migrations import ServiceHistory, service_config, service_sections


class TestSections:
    def test_every_section_names_a_schema_of_its_own_and_resolves(self) -> None:
        histories = [ServiceHistory.of(service_config(s)) for s in service_sections()]
        assert [h.schema for h in histories] == ["auth", "activity"]
        assert all(h.metadata.tables for h in histories)
        assert all(t.schema == h.schema for h in histories for t in h.metadata.tables.values())

    def test_a_section_without_a_schema_is_not_a_service(self, tmp_path: Path) -> None:
        ini = tmp_path / "alembic.ini"
        ini.write_text("[alembic]\nscript_location = x\n\n[billing]\nschema = billing\n")
        assert service_sections(ini) == ["billing"]


class TestVersionTables:
    async def test_each_service_keeps_its_version_table_in_its_own_schema(
        self, engine: AsyncEngine, alembic_services: list[str]
    ) -> None:
        async with engine.connect() as connection:
            rows = await connection.execute(
                text(
                    "SELECT table_schema FROM information_schema.tables "
                    "WHERE table_name = 'alembic_version'"
                )
            )
            schemas = sorted(row.table_schema for row in rows)

        assert schemas == sorted(alembic_services)

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
