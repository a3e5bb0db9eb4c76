"""Pytest plugin: one database per run, migrated by every service's Alembic history (every
section of the root `alembic.ini`, `common.db.migrations`).

Fixtures:
- `database_url`: the run's database (created, migrated, dropped at the end).
- `clean_database`: truncates every service table after the test that uses it (user triggers,
  such as an append-only table's, are disabled for it and restored exactly).
- `redis_url`, `redis_prefix`: the Redis to use and a key prefix unique to the test; `redis`, a
  client of it that answers text.
- `module_clean_database`, `module_redis_prefix`: the same for a module whose tests share one
  state (truncated after its last test).

The log scan (`common.testing.log_scan`): every record logged during the run is searched for
secrets (password hashes, JWTs, bearer tokens, private keys, quoted database rows) as our
handlers would write it; a run whose logs carry one fails, with the findings in its summary.

Postgres and Redis are found at TEST_POSTGRES_URL and TEST_REDIS_URL, by default the local
servers on 127.0.0.1.
"""

from __future__ import annotations

import asyncio
import itertools
import logging
import os
import uuid
from collections.abc import AsyncIterator, Iterator

import asyncpg
import pytest
from alembic import command
from redis.asyncio import Redis

from common.db.migrations import service_config, service_sections
from common.testing.log_scan import LogScan

ADMIN_URL = os.environ.get("TEST_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/postgres")
REDIS_URL = os.environ.get("TEST_REDIS_URL", "redis://127.0.0.1:6379/0")
RUN_ID = uuid.uuid4().hex[:10]
_test_counter = itertools.count()


class LogScanPlugin:
    """Attaches a `LogScan` to the root logger for the whole session and fails the run if it
    found anything. `configure_logging` leaves handlers it did not install alone, so the
    scan stays attached while the tests build apps."""

    def __init__(self) -> None:
        self.scan = LogScan()

    def pytest_sessionstart(self, session: pytest.Session) -> None:
        logging.getLogger().addHandler(self.scan)

    def pytest_runtest_logstart(self, nodeid: str, location: object) -> None:
        self.scan.current_test = nodeid

    def pytest_runtest_logfinish(self, nodeid: str, location: object) -> None:
        self.scan.current_test = f"(after {nodeid})"

    def pytest_sessionfinish(self, session: pytest.Session, exitstatus: int) -> None:
        logging.getLogger().removeHandler(self.scan)
        if self.scan.findings and session.exitstatus == pytest.ExitCode.OK:
            session.exitstatus = pytest.ExitCode.TESTS_FAILED

    def pytest_terminal_summary(self, terminalreporter: pytest.TerminalReporter) -> None:
        if not self.scan.findings:
            return
        terminalreporter.section("secrets in the logs: the run fails", sep="=", red=True)
        for line in self.scan.report():
            terminalreporter.line(line, red=True)


def pytest_configure(config: pytest.Config) -> None:
    # The services' migrations are the root `alembic.ini`'s, wherever pytest was started.
    os.environ.setdefault("ALEMBIC_CONFIG", str(config.rootpath / "alembic.ini"))
    # Hundreds of apps start in one test process: each would collect the whole test heap and
    # freeze it for good (a test of the freeze turns it on for itself).
    os.environ.setdefault("GC_FREEZE_AFTER_STARTUP", "false")
    config.pluginmanager.register(LogScanPlugin(), "common-log-scan")


def asyncpg_url(url: str) -> str:
    return url.replace("postgresql://", "postgresql+asyncpg://", 1)


def _with_database(url: str, name: str) -> str:
    base, _, _ = url.rpartition("/")
    return f"{base}/{name}"


async def _admin(sql: str) -> None:
    connection = await asyncpg.connect(ADMIN_URL)
    try:
        await connection.execute(sql)
    finally:
        await connection.close()


def create_database(name: str) -> str:
    """Create an empty database; return its asyncpg URL for SQLAlchemy."""
    try:
        asyncio.run(_admin(f'CREATE DATABASE "{name}"'))
    except (OSError, asyncpg.PostgresError) as exc:
        pytest.exit(f"PostgreSQL at {ADMIN_URL} is not usable: {exc!r}", returncode=3)
    return asyncpg_url(_with_database(ADMIN_URL, name))


def drop_database(name: str) -> None:
    asyncio.run(_admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


def migrate(database_url: str, service: str, revision: str = "head") -> None:
    """Upgrade `service` (its `alembic.ini` section) in the database at `database_url`."""
    command.upgrade(service_config(service, database_url=database_url), revision)


def downgrade(database_url: str, service: str, revision: str = "base") -> None:
    command.downgrade(service_config(service, database_url=database_url), revision)


@pytest.fixture(scope="session")
def alembic_services() -> list[str]:
    """The services whose histories the test database gets: every section of `alembic.ini`."""
    return service_sections()


@pytest.fixture(scope="session")
def database_url(alembic_services: list[str]) -> Iterator[str]:
    name = f"test_{RUN_ID}"
    url = create_database(name)
    try:
        for service in alembic_services:
            migrate(url, service)
        yield url
    finally:
        drop_database(name)


async def _service_tables(connection: asyncpg.Connection) -> list[str]:
    rows = await connection.fetch(
        """
        SELECT quote_ident(schemaname) || '.' || quote_ident(tablename) AS name
        FROM pg_tables
        WHERE schemaname NOT IN ('pg_catalog', 'information_schema', 'public')
          AND tablename <> 'alembic_version'
        """
    )
    return [row["name"] for row in rows]


# `pg_trigger.tgenabled` -> the ALTER TABLE clause that puts a trigger back in that state.
_TRIGGER_STATE = {
    "O": "ENABLE TRIGGER",
    "A": "ENABLE ALWAYS TRIGGER",
    "R": "ENABLE REPLICA TRIGGER",
    "D": "DISABLE TRIGGER",
}


_USER_TRIGGERS = """
SELECT quote_ident(n.nspname) || '.' || quote_ident(c.relname) AS table_name,
       quote_ident(t.tgname) AS trigger_name,
       t.tgenabled::text AS state
FROM pg_trigger t
JOIN pg_class c ON c.oid = t.tgrelid
JOIN pg_namespace n ON n.oid = c.relnamespace
WHERE NOT t.tgisinternal
  AND quote_ident(n.nspname) || '.' || quote_ident(c.relname) = ANY($1::text[])
ORDER BY 1, 2
"""


# Sequences owned by a column of the given tables (serial, identity) that have been used.
_USED_SEQUENCES = """
SELECT quote_ident(sn.nspname) || '.' || quote_ident(s.relname) AS name
FROM pg_class s
JOIN pg_namespace sn ON sn.oid = s.relnamespace
JOIN pg_depend d ON d.objid = s.oid AND d.classid = 'pg_class'::regclass AND d.deptype IN ('a', 'i')
JOIN pg_class t ON t.oid = d.refobjid
JOIN pg_namespace tn ON tn.oid = t.relnamespace
JOIN pg_sequences ps ON ps.schemaname = sn.nspname AND ps.sequencename = s.relname
WHERE s.relkind = 'S'
  AND ps.last_value IS NOT NULL
  AND quote_ident(tn.nspname) || '.' || quote_ident(t.relname) = ANY($1::text[])
"""


async def _non_empty(connection: asyncpg.Connection, tables: list[str]) -> list[str]:
    probes = " UNION ALL ".join(
        f"SELECT {index} AS i WHERE EXISTS (SELECT FROM {table})"  # noqa: S608 (catalog names, quoted)
        for index, table in enumerate(tables)
    )
    return [tables[row["i"]] for row in await connection.fetch(probes)]


async def truncate_service_tables(connection: asyncpg.Connection) -> None:
    """Empty every service table and restart its identity sequences, in one transaction.

    Only tables holding rows are truncated (a TRUNCATE creates new files even for an empty
    table, the bulk of the cost between two tests). User triggers of those tables (an
    append-only table refuses TRUNCATE) are disabled for the TRUNCATE and each is put back in
    the exact state it was in (`ENABLE ALWAYS` stays `ENABLE ALWAYS`)."""
    async with connection.transaction():
        every_table = await _service_tables(connection)
        if not every_table:
            return
        tables = await _non_empty(connection, every_table)
        if tables:
            # Not those behind foreign keys (internal): only triggers someone wrote.
            triggers = await connection.fetch(_USER_TRIGGERS, tables)
            for table in sorted({t["table_name"] for t in triggers}):
                await connection.execute(f"ALTER TABLE {table} DISABLE TRIGGER USER")
            await connection.execute(f"TRUNCATE {', '.join(tables)} CASCADE")
            for trigger in triggers:
                clause = _TRIGGER_STATE[trigger["state"]]
                await connection.execute(
                    f"ALTER TABLE {trigger['table_name']} {clause} {trigger['trigger_name']}"
                )
        # What RESTART IDENTITY did, for the sequences of empty tables too.
        for sequence in await connection.fetch(_USED_SEQUENCES, every_table):
            await connection.execute(f"ALTER SEQUENCE {sequence['name']} RESTART")


async def empty_service_tables(database_url: str) -> None:
    """`truncate_service_tables` on a connection of its own to `database_url`."""
    connection = await asyncpg.connect(database_url.replace("+asyncpg", ""))
    try:
        await truncate_service_tables(connection)
    finally:
        await connection.close()


@pytest.fixture
async def clean_database(database_url: str) -> AsyncIterator[str]:
    yield database_url
    await empty_service_tables(database_url)


@pytest.fixture(scope="module")
async def module_clean_database(database_url: str) -> AsyncIterator[str]:
    """`clean_database` for a module whose tests build on what the ones before them wrote
    (the fuzzing pass: one test per operation against one running service)."""
    yield database_url
    await empty_service_tables(database_url)


@pytest.fixture(scope="session")
def redis_url() -> str:
    return REDIS_URL


@pytest.fixture(scope="session")
async def _redis_run_cleanup(redis_url: str) -> AsyncIterator[None]:
    yield
    client = Redis.from_url(redis_url)
    try:
        keys = [key async for key in client.scan_iter(match=f"test:{RUN_ID}:*", count=1000)]
        if keys:
            await client.delete(*keys)
    finally:
        await client.aclose()


@pytest.fixture
async def redis(redis_url: str) -> AsyncIterator[Redis]:
    """A client of the test Redis that answers text (keys the test uses go under
    `redis_prefix`)."""
    client = Redis.from_url(redis_url, decode_responses=True)
    try:
        yield client
    finally:
        await client.aclose()


@pytest.fixture
def redis_prefix(_redis_run_cleanup: None) -> str:
    return f"test:{RUN_ID}:{next(_test_counter)}:"


@pytest.fixture(scope="module")
def module_redis_prefix(_redis_run_cleanup: None) -> str:
    """`redis_prefix` shared by the tests of a module (see `module_clean_database`)."""
    return f"test:{RUN_ID}:{next(_test_counter)}:"
