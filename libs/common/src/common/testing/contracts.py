"""Tests every service owes, written once: a service runs them by subclassing, one line each.

    class TestMigrations(MigrationContract):
        service = "auth"

    class TestLeastPrivilege(LeastPrivilegeContract):
        service = "auth"

    class TestPermissions(PermissionContract):
        permissions = common.permissions.auth.PERMISSIONS

    class TestOpenAPI(OpenAPIContract):
        ...

`service` is the service's section of `alembic.ini`. A subclass adds the service's own cases
(the fixtures `scratch_database`, `restricted_url` and `restricted` are there for them).
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Iterator, Mapping
from pathlib import Path
from typing import Any, ClassVar

import asyncpg
import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from fastapi import FastAPI
from sqlalchemy import Connection
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import create_async_engine

from common.db.migrations import ServiceHistory, service_config, service_sections
from common.runtime import service_core
from common.testing.openapi import assert_client_builds, assert_operation_ids, assert_summaries
from common.testing.permissions import assert_permissions_catalogued
from common.testing.plugin import create_database, downgrade, drop_database, migrate


def history_of(service: str) -> ServiceHistory:
    return ServiceHistory.of(service_config(service))


def libpq_url(url: str) -> str:
    """The SQLAlchemy URL as asyncpg itself takes it."""
    return url.replace("+asyncpg", "")


async def run_as_owner(database_url: str, *statements: str) -> None:
    connection = await asyncpg.connect(libpq_url(database_url))
    try:
        for statement in statements:
            await connection.execute(statement)
    finally:
        await connection.close()


def _differences(connection: Connection, history: ServiceHistory) -> list[Any]:
    def include(obj: Any, name: str | None, type_: str, reflected: bool, compare_to: Any) -> bool:
        return type_ != "table" or bool(obj.schema == history.schema)

    context = MigrationContext.configure(
        connection,
        opts={
            "include_schemas": True,
            "version_table_schema": history.schema,
            "include_object": include,
            "compare_type": True,
        },
    )
    return list(compare_metadata(context, history.metadata))


class MigrationContract:
    """The service's Alembic history matches its models and runs down to nothing and up again."""

    service: ClassVar[str]

    @pytest.fixture
    def scratch_database(self) -> Iterator[str]:
        """An empty database of its own, dropped afterwards."""
        name = f"test_migrations_{uuid.uuid4().hex[:8]}"
        url = create_database(name)
        try:
            yield url
        finally:
            drop_database(name)

    async def test_models_and_migrations_agree(self, database_url: str) -> None:
        history = history_of(self.service)
        engine = create_async_engine(database_url)
        try:
            async with engine.connect() as connection:
                differences = await connection.run_sync(_differences, history)
        finally:
            await engine.dispose()
        assert differences == []

    def test_downgrade_to_base_and_upgrade_again(self, scratch_database: str) -> None:
        migrate(scratch_database, self.service)
        downgrade(scratch_database, self.service, "base")
        migrate(scratch_database, self.service)


class LeastPrivilegeContract:
    """The service runs as a database role with the runbook's grants (docs/runbooks.md): rows
    of its own schema and nothing else. It can change no table, create none, and read no other
    service's schema. A subclass adds a test that the service's whole flow works as that role
    (`restricted_url` in place of the database URL)."""

    service: ClassVar[str]
    grants: ClassVar[str] = "SELECT, INSERT, UPDATE, DELETE"

    @pytest.fixture
    async def app_role(self, clean_database: str) -> AsyncIterator[str]:
        """A login role granted `grants` on every table of the schema, dropped afterwards."""
        schema = history_of(self.service).schema
        role = f"{schema}_app_{uuid.uuid4().hex[:8]}"
        await run_as_owner(
            clean_database,
            f"CREATE ROLE {role} LOGIN",
            f"GRANT USAGE ON SCHEMA {schema} TO {role}",
            f"GRANT {self.grants} ON ALL TABLES IN SCHEMA {schema} TO {role}",
        )
        try:
            yield role
        finally:
            await run_as_owner(clean_database, f"DROP OWNED BY {role}", f"DROP ROLE {role}")

    @pytest.fixture
    def restricted_url(self, clean_database: str, app_role: str) -> str:
        """The test database's URL, as the restricted role."""
        url = make_url(clean_database).set(username=app_role)
        return url.render_as_string(hide_password=False)

    @pytest.fixture
    async def restricted(self, restricted_url: str) -> AsyncIterator[asyncpg.Connection]:
        connection = await asyncpg.connect(libpq_url(restricted_url))
        try:
            yield connection
        finally:
            await connection.close()

    async def test_the_role_can_drop_alter_or_create_nothing(
        self, restricted: asyncpg.Connection
    ) -> None:
        history = history_of(self.service)
        refused = [
            f"CREATE TABLE {history.schema}.sneaky (id int)",
            "CREATE TABLE public.sneaky (id int)",
            "CREATE SCHEMA sneaky",
        ]
        for table in history.metadata.tables.values():
            refused += [
                f"DROP TABLE {table.fullname}",
                f"ALTER TABLE {table.fullname} ADD COLUMN sneaky int",
                f"ALTER TABLE {table.fullname} DISABLE TRIGGER USER",
            ]
        for statement in refused:
            with pytest.raises(asyncpg.InsufficientPrivilegeError):
                await restricted.execute(statement)

    async def test_the_role_reads_no_other_service_schema(
        self, restricted: asyncpg.Connection
    ) -> None:
        others = [history_of(s) for s in service_sections() if s != self.service]
        tables = [t.fullname for h in others for t in h.metadata.tables.values()]
        for table in tables:
            with pytest.raises(asyncpg.InsufficientPrivilegeError):
                await restricted.fetch(f"SELECT 1 FROM {table} LIMIT 1")  # noqa: S608 (catalog)


class PermissionContract:
    """Every permission the service's routes require is in the shared catalog, and they are
    exactly the ones of the service's own module of it (`permissions`, from
    `common.permissions.<service>`; decision 0012). Uses the service's `app` fixture."""

    permissions: ClassVar[Mapping[str, str]]

    async def test_routes_check_only_catalogued_permissions(self, app: FastAPI) -> None:
        assert assert_permissions_catalogued(app) == set(self.permissions)


class OpenAPIContract:
    """Every operation of the service's OpenAPI document has the id of the one rule
    (`common.operation_ids`: `auth-me-get`), no two the same, and a summary of its own; a
    Python client generated from the document (openapi-python-client) builds, one function
    module per operation named after its id. Uses the service's (started) `app` fixture."""

    async def test_every_operation_id_follows_the_rule(self, app: FastAPI) -> None:
        assert_operation_ids(app, api_prefix=service_core(app).settings.api_prefix)

    async def test_every_operation_has_a_summary_of_its_own(self, app: FastAPI) -> None:
        assert_summaries(app)

    def test_a_generated_client_builds(self, app: FastAPI, tmp_path: Path) -> None:
        assert_client_builds(app, tmp_path)
