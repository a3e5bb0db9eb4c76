"""`Database` and `get_session`: an engine bound to the service's schema and sized by its
settings, and one session per request that keeps only what a service committed."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager
from typing import Any

import httpx
import pytest
from fastapi import APIRouter, FastAPI
from sqlalchemy import MetaData, func, select, text
from sqlalchemy.exc import DBAPIError
from sqlalchemy.exc import TimeoutError as PoolTimeout
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession
from sqlalchemy.orm import Mapped

from common.db import Base, Database, UUIDPrimaryKey, new_metadata
from common.dependencies import SessionDep
from common.settings import ServiceSettings
from common.testing import free_port

AppFactory = Callable[..., FastAPI]
ClientOpener = Callable[[FastAPI], AbstractAsyncContextManager[httpx.AsyncClient]]
SettingsFactory = Callable[..., ServiceSettings]
TableMaker = Callable[[MetaData], Any]


class SessionBase(Base):
    __abstract__ = True
    metadata = new_metadata("common_test")


class Note(UUIDPrimaryKey, SessionBase):
    __tablename__ = "note"

    body: Mapped[str]


@pytest.fixture(scope="module")
async def module_tables(create_tables: TableMaker) -> None:
    await create_tables(SessionBase.metadata)


@pytest.fixture
async def tables(module_tables: None, empty_tables: None) -> None:
    """The module's tables, emptied after the test."""


@pytest.fixture
async def database(make_settings: SettingsFactory, tables: None) -> AsyncIterator[Database]:
    db = Database(make_settings(db_schema="common_test", service_name="notes-svc"))
    try:
        yield db
    finally:
        await db.dispose()


async def count_notes(engine: AsyncEngine) -> int:
    async with AsyncSession(engine) as other:
        return int(await other.scalar(select(func.count()).select_from(Note)) or 0)


class TestConnections:
    async def test_search_path_is_the_service_schema(self, database: Database) -> None:
        async with database.engine.connect() as connection:
            search_path = (await connection.execute(text("SHOW search_path"))).scalar()
            await connection.execute(
                text("INSERT INTO note (id, body) VALUES (gen_random_uuid(), 'x')")
            )
            unqualified = (await connection.execute(text("SELECT count(*) FROM note"))).scalar()

        assert search_path == "common_test"
        assert unqualified == 1

    async def test_connections_are_named_after_the_service(self, database: Database) -> None:
        async with database.engine.connect() as connection:
            name = (
                await connection.execute(text("SELECT current_setting('application_name')"))
            ).scalar()

        assert name == "notes-svc"

    async def test_jit_is_off(self, database: Database) -> None:
        async with database.engine.connect() as connection:
            jit = (await connection.execute(text("SHOW jit"))).scalar()

        assert jit == "off"

    async def test_ping_answers_when_the_database_does(self, database: Database) -> None:
        await database.ping()

    async def test_ping_raises_when_the_database_is_unreachable(
        self, make_settings: SettingsFactory
    ) -> None:
        unreachable = Database(
            make_settings(database_url=f"postgresql+asyncpg://postgres@127.0.0.1:{free_port()}/x")
        )
        try:
            with pytest.raises(OSError, match="Connect call failed"):
                await unreachable.ping()
        finally:
            await unreachable.dispose()

    async def test_dispose_closes_the_pooled_connections(
        self, database: Database, engine: AsyncEngine
    ) -> None:
        async def open_connections() -> int:
            async with engine.connect() as watcher:
                query = text(
                    "SELECT count(*) FROM pg_stat_activity WHERE application_name = 'notes-svc'"
                )
                return int((await watcher.execute(query)).scalar_one())

        await database.ping()
        before = await open_connections()
        await database.dispose()

        assert (before, await open_connections()) == (1, 0)


class TestErrors:
    async def test_statement_parameters_stay_out_of_error_messages(
        self, database: Database
    ) -> None:
        """SQLAlchemy writes a failed statement's parameters into the exception's message,
        which ends up in the error log: a password hash being stored, a token being checked."""
        secret = "$argon2id$v=19$m=19456,t=2,p=1$c2FsdHNhbHQ$aGFzaGhhc2hoYXNo"
        statement = text("INSERT INTO note (id, body) VALUES (CAST(:id AS uuid), :body)")
        async with database.engine.connect() as connection:
            with pytest.raises(DBAPIError) as caught:
                await connection.execute(statement, {"id": "not-a-uuid", "body": secret})

        assert "not-a-uuid" in str(caught.value)  # PostgreSQL names the bad value itself
        assert secret not in str(caught.value)
        assert "hidden" in str(caught.value)


class TestPool:
    async def test_the_pool_is_sized_by_the_settings(self, make_settings: SettingsFactory) -> None:
        database = Database(make_settings(db_pool_size=1, db_max_overflow=0, db_pool_timeout=0.1))
        try:
            async with database.engine.connect() as held:
                await held.execute(text("SELECT 1"))
                started = time.monotonic()
                with pytest.raises(PoolTimeout):
                    async with database.engine.connect() as second:
                        await second.execute(text("SELECT 1"))
                waited = time.monotonic() - started
        finally:
            await database.dispose()

        assert 0.09 <= waited < 1.0


class TestSessions:
    async def test_objects_stay_readable_after_commit(self, database: Database) -> None:
        async with database.sessionmaker() as session:
            note = Note(body="kept")
            session.add(note)
            await session.commit()

        # The session is closed: reading an expired attribute would need a query and fail.
        assert note.body == "kept"

    async def test_uncommitted_work_is_discarded_when_the_session_closes(
        self, database: Database
    ) -> None:
        async with database.sessionmaker() as session:
            session.add(Note(body="never committed"))
            await session.flush()

        assert await count_notes(database.engine) == 0


router = APIRouter()


@router.post("/notes")
async def create_note(session: SessionDep, body: str, commit: bool) -> dict[str, bool]:
    session.add(Note(body=body))
    await session.flush()
    if commit:
        await session.commit()
    return {"committed": commit}


@router.post("/notes/fail")
async def create_note_then_fail(session: SessionDep) -> dict[str, str]:
    session.add(Note(body="half done"))
    await session.flush()
    raise RuntimeError("the service failed after writing")


class TestGetSession:
    @pytest.fixture
    async def client(
        self, tables: None, make_app: AppFactory, running: ClientOpener
    ) -> AsyncIterator[httpx.AsyncClient]:
        async with running(make_app(routers=[router], db_schema="common_test")) as http:
            yield http

    async def test_committed_work_is_kept(
        self, client: httpx.AsyncClient, engine: AsyncEngine
    ) -> None:
        response = await client.post("/api/v1/notes", params={"body": "kept", "commit": True})

        assert response.json() == {"committed": True}
        assert await count_notes(engine) == 1

    async def test_uncommitted_work_is_rolled_back_after_the_request(
        self, client: httpx.AsyncClient, engine: AsyncEngine
    ) -> None:
        response = await client.post("/api/v1/notes", params={"body": "lost", "commit": False})

        assert response.json() == {"committed": False}
        assert await count_notes(engine) == 0

    async def test_work_of_a_failed_request_is_rolled_back(
        self, client: httpx.AsyncClient, engine: AsyncEngine
    ) -> None:
        response = await client.post("/api/v1/notes/fail")

        assert response.status_code == 500
        assert await count_notes(engine) == 0
