"""The transactional outbox: an event exists if and only if the change it records committed."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable

import pytest
from sqlalchemy import MetaData, func, select
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession
from sqlalchemy.orm import Mapped

from common.audit import Actor, AuditEvent, AuditRecorder, OutboxMixin, Resource
from common.context import request_id_var
from common.db import Base, UUIDPrimaryKey, new_metadata

TableMaker = Callable[[MetaData], Awaitable[None]]


class OutboxBase(Base):
    __abstract__ = True
    metadata = new_metadata("common_test")


class Note(UUIDPrimaryKey, OutboxBase):
    __tablename__ = "note"

    text: Mapped[str]


class Outbox(OutboxMixin, OutboxBase):
    __tablename__ = "audit_outbox"


recorder = AuditRecorder("notes", Outbox)
WRITER = Actor(type="user", id="u-1")


@pytest.fixture
async def session(
    engine: AsyncEngine, create_tables: TableMaker, empty_tables: None
) -> AsyncIterator[AsyncSession]:
    await create_tables(OutboxBase.metadata)
    async with AsyncSession(engine, expire_on_commit=False) as db_session:
        yield db_session


async def outbox(engine: AsyncEngine) -> list[AuditEvent]:
    async with AsyncSession(engine) as reader:
        payloads = await reader.scalars(select(Outbox.payload).order_by(Outbox.id))
        return [AuditEvent.from_json(p) for p in payloads]


class TestRecord:
    async def test_the_event_is_written_with_the_change(
        self, session: AsyncSession, engine: AsyncEngine
    ) -> None:
        note = Note(text="hello")
        session.add(note)
        recorded = recorder.record(
            session,
            action="notes.note.created",
            actor=WRITER,
            resource=Resource(type="note", id=str(note.id)),
            metadata={"length": 5},
        )
        assert await outbox(engine) == []  # nothing before the commit

        await session.commit()

        assert await outbox(engine) == [recorded]
        assert recorded.service == "notes"

    async def test_a_rolled_back_change_leaves_no_event(
        self, session: AsyncSession, engine: AsyncEngine
    ) -> None:
        session.add(Note(text="never"))
        recorder.record(session, action="notes.note.created", actor=WRITER)
        await session.flush()

        await session.rollback()

        assert await outbox(engine) == []
        async with AsyncSession(engine) as reader:
            assert await reader.scalar(select(func.count()).select_from(Note)) == 0

    async def test_the_request_id_of_the_current_request_is_stamped(
        self, session: AsyncSession
    ) -> None:
        token = request_id_var.set("req-42")
        try:
            recorded = recorder.record(session, action="notes.note.created", actor=WRITER)
        finally:
            request_id_var.reset(token)

        assert recorded.request_id == "req-42"

    async def test_metadata_passes_the_event_schema(self, session: AsyncSession) -> None:
        recorded = recorder.record(
            session, action="notes.note.shared", actor=WRITER, metadata={"share_token": "s3cr3t"}
        )

        assert recorded.metadata == {"share_token": "[redacted]"}

    async def test_core_writers_get_the_same_row(
        self, session: AsyncSession, engine: AsyncEngine
    ) -> None:
        built = recorder.event(action="notes.note.created", actor=WRITER)

        await session.execute(recorder.insert(built))
        await session.commit()

        assert await outbox(engine) == [built]
