"""`CompiledQuery`: a Core statement compiled once and run on the asyncpg driver connection,
outside any transaction."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from typing import Any

import pytest
from sqlalchemy import MetaData, bindparam, func, insert, literal, select
from sqlalchemy.ext.asyncio import AsyncEngine
from sqlalchemy.orm import Mapped

from common.db import Base, CompiledQuery, UUIDPrimaryKey, new_metadata

TableMaker = Callable[[MetaData], Any]


class CompiledBase(Base):
    __abstract__ = True
    metadata = new_metadata("common_test")


class Widget(UUIDPrimaryKey, CompiledBase):
    __tablename__ = "widget"

    name: Mapped[str]
    kind: Mapped[str]


BY_NAME = CompiledQuery(
    select(Widget.id, Widget.name, func.upper(Widget.kind).label("kind"))
    .where(Widget.name == bindparam("name"))
    .where(Widget.kind != "retired")
)
ADD = CompiledQuery(
    insert(Widget)
    .values(id=bindparam("id"), name=bindparam("name"), kind=literal("gear"))
    .returning(Widget.id)
)
ADD_QUIETLY = CompiledQuery(
    insert(Widget).values(id=bindparam("id"), name=bindparam("name"), kind=literal("bolt"))
)


@pytest.fixture
async def tables(create_tables: TableMaker, empty_tables: None) -> None:
    await create_tables(CompiledBase.metadata)


@pytest.mark.usefixtures("tables")
class TestCompiledQuery:
    def test_compiles_once_to_driver_sql_with_positional_parameters(self) -> None:
        assert "$1" in BY_NAME.sql
        assert BY_NAME.required == {"name"}

    async def test_a_write_with_returning_commits_on_its_own(self, engine: AsyncEngine) -> None:
        widget_id = uuid.uuid4()
        row = await ADD.first_row(engine, id=widget_id, name="cog")

        assert row == {"id": widget_id}
        # Seen from another connection at once: the statement was not left in a transaction.
        found = await BY_NAME.first_row(engine, name="cog")
        assert found == {"id": widget_id, "name": "cog", "kind": "GEAR"}

    async def test_values_written_in_the_statement_are_sent_too(self, engine: AsyncEngine) -> None:
        async with engine.begin() as connection:
            await connection.execute(
                insert(Widget), [{"name": "old", "kind": "retired"}, {"name": "old", "kind": "x"}]
            )

        row = await BY_NAME.first_row(engine, name="old")

        assert row is not None
        assert row["kind"] == "X"

    async def test_a_write_without_returning_runs_and_commits(self, engine: AsyncEngine) -> None:
        await ADD_QUIETLY.run(engine, id=uuid.uuid4(), name="nut")

        assert await BY_NAME.first_row(engine, name="nut") is not None

    async def test_no_row_is_none(self, engine: AsyncEngine) -> None:
        assert await BY_NAME.first_row(engine, name="nothing") is None

    async def test_a_missing_parameter_is_refused_before_the_database_is_asked(
        self, engine: AsyncEngine
    ) -> None:
        with pytest.raises(TypeError, match=r"missing query parameters: \['name'\]"):
            await BY_NAME.first_row(engine)
