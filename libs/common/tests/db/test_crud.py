"""`CRUDBase`: the generic repository. It adds and flushes but never commits, so the service
that called it decides whether the work is kept."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from pydantic import BaseModel
from sqlalchemy import MetaData, func, select
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession
from sqlalchemy.orm import Mapped, mapped_column

from common.db import Base, CRUDBase, PageParams, Timestamps, UUIDPrimaryKey, new_metadata

TableMaker = Callable[[MetaData], Any]


class CrudBase(Base):
    __abstract__ = True
    metadata = new_metadata("common_test")


class Gadget(UUIDPrimaryKey, Timestamps, CrudBase):
    __tablename__ = "gadget"

    name: Mapped[str]
    size: Mapped[int] = mapped_column(default=1)
    colour: Mapped[str | None]


class GadgetCreate(BaseModel):
    name: str
    size: int = 1
    colour: str | None = None


class GadgetUpdate(BaseModel):
    name: str | None = None
    size: int | None = None
    colour: str | None = None


gadgets = CRUDBase[Gadget, GadgetCreate, GadgetUpdate](Gadget)


@pytest.fixture(scope="module")
async def tables(create_tables: TableMaker) -> None:
    await create_tables(CrudBase.metadata)


@pytest.fixture
async def session(
    engine: AsyncEngine, tables: None, empty_tables: None
) -> AsyncIterator[AsyncSession]:
    async with AsyncSession(engine, expire_on_commit=False) as db_session:
        yield db_session


async def count_committed(engine: AsyncEngine) -> int:
    """Rows another connection can see, that is, committed rows."""
    async with AsyncSession(engine) as other:
        return int(await other.scalar(select(func.count()).select_from(Gadget)) or 0)


class TestCreate:
    async def test_creates_from_a_schema_and_flushes(self, session: AsyncSession) -> None:
        gadget = await gadgets.create(session, data=GadgetCreate(name="lamp", size=3))

        assert isinstance(gadget.id, uuid.UUID)
        assert (gadget.name, gadget.size, gadget.colour) == ("lamp", 3, None)
        found = await session.scalar(select(Gadget.name).where(Gadget.id == gadget.id))
        assert found == "lamp"

    async def test_creates_from_a_mapping(self, session: AsyncSession) -> None:
        gadget = await gadgets.create(session, data={"name": "fan", "colour": "red"})

        assert (gadget.name, gadget.size, gadget.colour) == ("fan", 1, "red")

    async def test_timestamps_are_set_in_utc(self, session: AsyncSession) -> None:
        before = datetime.now(UTC)

        gadget = await gadgets.create(session, data=GadgetCreate(name="clock"))

        assert gadget.created_at.tzinfo is not None
        assert before <= gadget.created_at <= datetime.now(UTC)
        assert gadget.updated_at - gadget.created_at < timedelta(seconds=1)

    async def test_does_not_commit(self, session: AsyncSession, engine: AsyncEngine) -> None:
        await gadgets.create(session, data=GadgetCreate(name="draft"))

        assert await count_committed(engine) == 0
        await session.commit()
        assert await count_committed(engine) == 1

    async def test_a_rollback_discards_the_new_row(self, session: AsyncSession) -> None:
        gadget = await gadgets.create(session, data=GadgetCreate(name="temporary"))
        gadget_id = gadget.id

        await session.rollback()

        assert await gadgets.get(session, gadget_id) is None


class TestGet:
    async def test_returns_the_row_by_id(self, session: AsyncSession) -> None:
        created = await gadgets.create(session, data=GadgetCreate(name="kettle"))
        await session.commit()
        session.expunge_all()

        found = await gadgets.get(session, created.id)

        assert found is not None
        assert (found.id, found.name) == (created.id, "kettle")

    async def test_returns_none_for_an_unknown_id(self, session: AsyncSession) -> None:
        assert await gadgets.get(session, uuid.uuid4()) is None


class TestGetMulti:
    async def test_pages_newest_first(self, session: AsyncSession) -> None:
        start = datetime(2025, 3, 1, tzinfo=UTC)
        for number in range(5):
            await gadgets.create(
                session,
                data={"name": f"g{number}", "created_at": start + timedelta(minutes=number)},
            )
        await session.commit()

        first = await gadgets.get_multi(session, params=PageParams(limit=3))
        second = await gadgets.get_multi(
            session, params=PageParams(limit=3, cursor=first.next_cursor)
        )

        assert [g.name for g in first.items] == ["g4", "g3", "g2"]
        assert [g.name for g in second.items] == ["g1", "g0"]
        assert second.next_cursor is None


class TestUpdate:
    async def test_changes_only_the_fields_that_were_sent(self, session: AsyncSession) -> None:
        gadget = await gadgets.create(
            session, data=GadgetCreate(name="lamp", size=3, colour="blue")
        )

        await gadgets.update(session, obj=gadget, data=GadgetUpdate(size=5))

        assert (gadget.name, gadget.size, gadget.colour) == ("lamp", 5, "blue")

    async def test_an_explicit_null_clears_the_field(self, session: AsyncSession) -> None:
        gadget = await gadgets.create(session, data=GadgetCreate(name="lamp", colour="blue"))

        await gadgets.update(session, obj=gadget, data=GadgetUpdate(colour=None))

        assert (gadget.name, gadget.colour) == ("lamp", None)

    async def test_updates_from_a_mapping(self, session: AsyncSession) -> None:
        gadget = await gadgets.create(session, data=GadgetCreate(name="lamp"))

        await gadgets.update(session, obj=gadget, data={"name": "desk lamp"})

        stored = await session.scalar(select(Gadget.name).where(Gadget.id == gadget.id))
        assert stored == "desk lamp"

    async def test_moves_updated_at_forward(self, session: AsyncSession) -> None:
        gadget = await gadgets.create(session, data=GadgetCreate(name="lamp"))
        created_at = gadget.created_at

        await gadgets.update(session, obj=gadget, data=GadgetUpdate(size=2))

        assert gadget.updated_at > created_at
        assert gadget.created_at == created_at

    async def test_does_not_commit(self, session: AsyncSession) -> None:
        gadget = await gadgets.create(session, data=GadgetCreate(name="lamp"))
        await session.commit()
        gadget_id = gadget.id

        await gadgets.update(session, obj=gadget, data=GadgetUpdate(name="changed"))
        await session.rollback()

        stored = await session.scalar(select(Gadget.name).where(Gadget.id == gadget_id))
        assert stored == "lamp"


class TestDelete:
    async def test_removes_the_row(self, session: AsyncSession) -> None:
        gadget = await gadgets.create(session, data=GadgetCreate(name="lamp"))

        await gadgets.delete(session, obj=gadget)

        assert await gadgets.get(session, gadget.id) is None

    async def test_does_not_commit(self, session: AsyncSession, engine: AsyncEngine) -> None:
        gadget = await gadgets.create(session, data=GadgetCreate(name="lamp"))
        await session.commit()
        gadget_id = gadget.id

        await gadgets.delete(session, obj=gadget)

        assert await count_committed(engine) == 1
        await session.rollback()
        assert await gadgets.get(session, gadget_id) is not None
