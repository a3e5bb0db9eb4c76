"""`Repository`: the data-access base every service's repositories extend. It adds and flushes
but never commits, so the service that made it decides whether the work is kept."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import MetaData, func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession
from sqlalchemy.orm import Mapped, mapped_column

from common.db import Base, Repository, Timestamps, UUIDPrimaryKey, new_metadata

TableMaker = Callable[[MetaData], Any]


class RepositoryBase(Base):
    __abstract__ = True
    metadata = new_metadata("common_test")


class Gadget(UUIDPrimaryKey, Timestamps, RepositoryBase):
    __tablename__ = "gadget"

    name: Mapped[str] = mapped_column(unique=True)
    size: Mapped[int] = mapped_column(default=1)
    colour: Mapped[str | None]


class GadgetRepository(Repository[Gadget]):
    model = Gadget


@pytest.fixture(scope="module")
async def tables(create_tables: TableMaker) -> None:
    await create_tables(RepositoryBase.metadata)


@pytest.fixture
async def session(
    engine: AsyncEngine, tables: None, empty_tables: None
) -> AsyncIterator[AsyncSession]:
    async with AsyncSession(engine, expire_on_commit=False) as db_session:
        yield db_session


@pytest.fixture
def gadgets(session: AsyncSession) -> GadgetRepository:
    return GadgetRepository(session)


async def count(engine: AsyncEngine) -> int:
    async with AsyncSession(engine) as other:
        return int(await other.scalar(select(func.count()).select_from(Gadget)) or 0)


class TestCreate:
    async def test_flushes_so_server_defaults_are_readable(self, gadgets: GadgetRepository) -> None:
        gadget = await gadgets.create(Gadget(name="lamp"))
        assert gadget.size == 1
        assert gadget.created_at.tzinfo is not None
        assert gadget.created_at.utcoffset() == timedelta(0)

    async def test_a_broken_constraint_fails_in_the_call(self, gadgets: GadgetRepository) -> None:
        await gadgets.create(Gadget(name="lamp"))
        with pytest.raises(IntegrityError):
            await gadgets.create(Gadget(name="lamp"))

    async def test_does_not_commit(self, gadgets: GadgetRepository, engine: AsyncEngine) -> None:
        await gadgets.create(Gadget(name="lamp"))
        assert await count(engine) == 0


class TestAdd:
    async def test_is_written_at_the_commit(
        self, gadgets: GadgetRepository, session: AsyncSession, engine: AsyncEngine
    ) -> None:
        gadgets.add(Gadget(name="desk"))
        assert await count(engine) == 0
        await session.commit()
        assert await count(engine) == 1

    async def test_a_rollback_discards_it(
        self, gadgets: GadgetRepository, session: AsyncSession, engine: AsyncEngine
    ) -> None:
        gadgets.add(Gadget(name="desk"))
        await session.rollback()
        await session.commit()
        assert await count(engine) == 0


class TestGet:
    async def test_returns_the_row_by_id(
        self, gadgets: GadgetRepository, session: AsyncSession
    ) -> None:
        gadget = await gadgets.create(Gadget(name="chair", colour="red"))
        await session.commit()
        session.expunge_all()
        found = await gadgets.get(gadget.id)
        assert found is not None
        assert (found.name, found.colour) == ("chair", "red")

    async def test_returns_none_for_an_unknown_id(self, gadgets: GadgetRepository) -> None:
        assert await gadgets.get(uuid.uuid4()) is None


class TestUpdate:
    async def test_changes_only_the_given_fields(self, gadgets: GadgetRepository) -> None:
        gadget = await gadgets.create(Gadget(name="lamp", size=3, colour="blue"))
        await gadgets.update(gadget, {"colour": None})
        assert (gadget.name, gadget.size, gadget.colour) == ("lamp", 3, None)

    async def test_moves_updated_at_forward(self, gadgets: GadgetRepository) -> None:
        gadget = await gadgets.create(Gadget(name="lamp"))
        await gadgets.update(gadget, {"updated_at": datetime(2020, 1, 1, tzinfo=UTC)})
        await gadgets.update(gadget, {"size": 2})
        assert gadget.updated_at > datetime(2020, 1, 1, tzinfo=UTC)


class TestDelete:
    async def test_removes_the_row_at_the_commit(
        self, gadgets: GadgetRepository, session: AsyncSession, engine: AsyncEngine
    ) -> None:
        gadget = await gadgets.create(Gadget(name="lamp"))
        await session.commit()
        await gadgets.delete(gadget)
        assert await count(engine) == 1
        await session.commit()
        assert await count(engine) == 0
