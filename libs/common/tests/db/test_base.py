"""The declarative base: one schema per service, named constraints, UUID keys and UTC
timestamps."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

from sqlalchemy import DateTime, ForeignKey, Index, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from common.db import Base, Timestamps, UUIDPrimaryKey, new_metadata, utcnow


class NamingBase(Base):
    __abstract__ = True
    metadata = new_metadata("naming_test")


class Shelf(UUIDPrimaryKey, NamingBase):
    __tablename__ = "shelf"

    label: Mapped[str] = mapped_column(unique=True)


class Book(UUIDPrimaryKey, Timestamps, NamingBase):
    __tablename__ = "book"
    __table_args__ = (
        UniqueConstraint("shelf_id", "title"),
        Index(None, "title"),
    )

    shelf_id: Mapped[uuid.UUID] = mapped_column(ForeignKey(Shelf.id))
    title: Mapped[str]


BOOK = NamingBase.metadata.tables["naming_test.book"]
SHELF = NamingBase.metadata.tables["naming_test.shelf"]


class TestMetadata:
    def test_tables_live_in_the_schema_of_the_metadata(self) -> None:
        assert Book.__table__.schema == "naming_test"
        assert NamingBase.metadata.tables.keys() == {"naming_test.shelf", "naming_test.book"}

    def test_constraints_are_named_by_the_convention(self) -> None:
        names = {c.name for c in BOOK.constraints}

        assert names == {"pk_book", "fk_book_shelf_id_shelf", "uq_book_shelf_id_title"}

    def test_unique_columns_and_indexes_are_named_too(self) -> None:
        assert {c.name for c in SHELF.constraints} == {"pk_shelf", "uq_shelf_label"}
        assert {i.name for i in BOOK.indexes} == {"ix_naming_test_book_title"}

    def test_each_service_gets_its_own_metadata(self) -> None:
        assert new_metadata("a") is not new_metadata("a")
        assert new_metadata("a").schema == "a"


class TestColumns:
    def test_timestamps_are_timezone_aware(self) -> None:
        for column in (BOOK.c.created_at, BOOK.c.updated_at):
            assert isinstance(column.type, DateTime)
            assert column.type.timezone is True
        assert BOOK.c.updated_at.onupdate is not None

    def test_utcnow_is_aware_and_in_utc(self) -> None:
        now = utcnow()

        assert now.tzinfo is UTC
        assert abs((datetime.now(UTC) - now).total_seconds()) < 1
