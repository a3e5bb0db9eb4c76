"""Keyset pagination: every row exactly once across pages, stable under concurrent inserts, and
opaque cursors that are refused with a 422 when they do not decode."""

from __future__ import annotations

import base64
import uuid
from collections.abc import AsyncIterator, Callable, Sequence
from contextlib import AbstractAsyncContextManager
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from fastapi import APIRouter, FastAPI
from sqlalchemy import MetaData, select
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession
from sqlalchemy.orm import Mapped

from common.db import (
    Base,
    PageParams,
    PageParamsDep,
    PageResponse,
    SessionDep,
    Timestamps,
    UUIDPrimaryKey,
    decode_cursor,
    encode_cursor,
    new_metadata,
    paginate,
)
from common.errors import InvalidCursor
from common.schemas import ResponseModel
from common.testing import assert_error

AppFactory = Callable[..., FastAPI]
ClientOpener = Callable[[FastAPI], AbstractAsyncContextManager[httpx.AsyncClient]]
TableMaker = Callable[[MetaData], Any]

START = datetime(2025, 1, 1, tzinfo=UTC)


class PaginationBase(Base):
    __abstract__ = True
    metadata = new_metadata("common_test")


class Entry(UUIDPrimaryKey, Timestamps, PaginationBase):
    __tablename__ = "entry"

    position: Mapped[int]


class EntryOut(ResponseModel):
    id: uuid.UUID
    position: int


ORDER = [Entry.created_at, Entry.id]


@pytest.fixture(scope="module")
async def tables(create_tables: TableMaker) -> None:
    await create_tables(PaginationBase.metadata)


@pytest.fixture
async def session(
    engine: AsyncEngine, tables: None, empty_tables: None
) -> AsyncIterator[AsyncSession]:
    async with AsyncSession(engine, expire_on_commit=False) as db_session:
        yield db_session


async def add_entries(
    session: AsyncSession, positions: Sequence[int], *, same_time: bool = False
) -> list[Entry]:
    """Entries created one second apart in order of `positions` (or all at one instant)."""
    entries = [
        Entry(position=p, created_at=START if same_time else START + timedelta(seconds=p))
        for p in positions
    ]
    session.add_all(entries)
    await session.commit()
    return entries


async def walk(
    session: AsyncSession, *, limit: int, descending: bool = True, statement: Any = None
) -> list[list[int]]:
    """Positions page by page, following `next_cursor` to the end."""
    pages: list[list[int]] = []
    cursor: str | None = None
    while True:
        page = await paginate(
            session,
            statement if statement is not None else select(Entry),
            order_by=ORDER,
            params=PageParams(limit=limit, cursor=cursor),
            descending=descending,
        )
        pages.append([e.position for e in page.items])
        if page.next_cursor is None:
            return pages
        cursor = page.next_cursor


def cursor_of(raw_json: bytes) -> str:
    return base64.urlsafe_b64encode(raw_json).decode().rstrip("=")


class TestCursorCodec:
    def test_a_cursor_round_trips_timestamps_and_uuids(self) -> None:
        values = [START + timedelta(microseconds=123), uuid.uuid4()]

        assert decode_cursor(encode_cursor(values), ORDER) == values

    def test_a_cursor_round_trips_integers(self) -> None:
        assert decode_cursor(encode_cursor([17]), [Entry.position]) == [17]

    def test_a_cursor_is_url_safe_text(self) -> None:
        cursor = encode_cursor([START, uuid.UUID(int=2**128 - 1)])

        assert set(cursor) <= set(
            "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
        )

    @pytest.mark.parametrize(
        "cursor",
        [
            "%%%",
            "é",
            cursor_of(b"not json"),
            cursor_of(b"\xff\xfe"),
            cursor_of(b'{"created_at": "2025-01-01T00:00:00+00:00"}'),
            cursor_of(b'["2025-01-01T00:00:00+00:00"]'),
            cursor_of(b'["2025-01-01T00:00:00+00:00", "' + str(uuid.uuid4()).encode() + b'", 1]'),
            cursor_of(b'["2025-01-01T00:00:00", "' + str(uuid.uuid4()).encode() + b'"]'),
            cursor_of(b'["yesterday", "' + str(uuid.uuid4()).encode() + b'"]'),
            cursor_of(b'[12, "' + str(uuid.uuid4()).encode() + b'"]'),
            cursor_of(b'["2025-01-01T00:00:00+00:00", "not-a-uuid"]'),
        ],
    )
    def test_a_cursor_that_does_not_decode_is_refused(self, cursor: str) -> None:
        with pytest.raises(InvalidCursor) as caught:
            decode_cursor(cursor, ORDER)

        assert (caught.value.status_code, caught.value.code) == (422, "invalid_cursor")

    def test_a_value_of_the_wrong_type_is_refused(self) -> None:
        with pytest.raises(InvalidCursor):
            decode_cursor(cursor_of(b'["5"]'), [Entry.position])


class TestPaginate:
    async def test_walks_every_row_once_newest_first(self, session: AsyncSession) -> None:
        await add_entries(session, range(25))

        pages = await walk(session, limit=10)

        assert pages == [
            list(range(24, 14, -1)),
            list(range(14, 4, -1)),
            list(range(4, -1, -1)),
        ]

    async def test_an_exact_multiple_ends_without_an_empty_page(
        self, session: AsyncSession
    ) -> None:
        await add_entries(session, range(20))

        pages = await walk(session, limit=10)

        assert [len(p) for p in pages] == [10, 10]

    async def test_ascending_order_walks_oldest_first(self, session: AsyncSession) -> None:
        await add_entries(session, range(7))

        pages = await walk(session, limit=3, descending=False)

        assert pages == [[0, 1, 2], [3, 4, 5], [6]]

    async def test_an_empty_list_is_one_empty_page(self, session: AsyncSession) -> None:
        page = await paginate(session, select(Entry), order_by=ORDER, params=PageParams())

        assert (page.items, page.next_cursor) == ([], None)

    async def test_rows_with_equal_timestamps_are_split_by_id(self, session: AsyncSession) -> None:
        entries = await add_entries(session, range(9), same_time=True)

        pages = await walk(session, limit=4)

        by_id = sorted(entries, key=lambda e: e.id, reverse=True)
        assert [p for page in pages for p in page] == [e.position for e in by_id]
        assert [len(p) for p in pages] == [4, 4, 1]

    async def test_rows_inserted_between_pages_do_not_shift_later_pages(
        self, session: AsyncSession
    ) -> None:
        await add_entries(session, range(10))
        first = await paginate(session, select(Entry), order_by=ORDER, params=PageParams(limit=4))

        await add_entries(session, range(100, 105))
        second = await paginate(
            session,
            select(Entry),
            order_by=ORDER,
            params=PageParams(limit=4, cursor=first.next_cursor),
        )

        assert [e.position for e in first.items] == [9, 8, 7, 6]
        assert [e.position for e in second.items] == [5, 4, 3, 2]

    async def test_a_deleted_cursor_row_does_not_break_the_walk(
        self, session: AsyncSession
    ) -> None:
        await add_entries(session, range(6))
        first = await paginate(session, select(Entry), order_by=ORDER, params=PageParams(limit=3))

        await session.delete(first.items[-1])
        await session.commit()
        second = await paginate(
            session,
            select(Entry),
            order_by=ORDER,
            params=PageParams(limit=3, cursor=first.next_cursor),
        )

        assert [e.position for e in second.items] == [2, 1, 0]

    async def test_the_statement_keeps_its_filters(self, session: AsyncSession) -> None:
        await add_entries(session, range(12))

        pages = await walk(session, limit=4, statement=select(Entry).where(Entry.position % 3 == 0))

        assert pages == [[9, 6, 3, 0]]


router = APIRouter()


@router.get("/entries")
async def list_entries(session: SessionDep, params: PageParamsDep) -> PageResponse[EntryOut]:
    page = await paginate(session, select(Entry), order_by=ORDER, params=params)
    return PageResponse[EntryOut].from_page(page)


class TestOverHttp:
    @pytest.fixture
    async def client(
        self, session: AsyncSession, make_app: AppFactory, running: ClientOpener
    ) -> AsyncIterator[httpx.AsyncClient]:
        await add_entries(session, range(30))
        async with running(make_app(routers=[router], db_schema="common_test")) as http:
            yield http

    async def test_lists_answer_items_and_next_cursor(self, client: httpx.AsyncClient) -> None:
        response = await client.get("/api/v1/entries", params={"limit": 2})

        body = response.json()
        assert response.status_code == 200
        assert set(body) == {"items", "next_cursor"}
        assert [item["position"] for item in body["items"]] == [29, 28]
        assert isinstance(body["next_cursor"], str)

    async def test_the_default_page_has_twenty_items(self, client: httpx.AsyncClient) -> None:
        response = await client.get("/api/v1/entries")

        assert len(response.json()["items"]) == 20

    async def test_following_next_cursor_visits_every_item_once(
        self, client: httpx.AsyncClient
    ) -> None:
        seen: list[int] = []
        params: dict[str, Any] = {"limit": 7}
        while True:
            body = (await client.get("/api/v1/entries", params=params)).json()
            seen += [item["position"] for item in body["items"]]
            if body["next_cursor"] is None:
                break
            params["cursor"] = body["next_cursor"]

        assert seen == list(range(29, -1, -1))

    @pytest.mark.parametrize("limit", [0, 101, -1])
    async def test_a_limit_outside_1_to_100_is_refused(
        self, client: httpx.AsyncClient, limit: int
    ) -> None:
        response = await client.get("/api/v1/entries", params={"limit": limit})

        error = assert_error(response, 422, "validation_error")
        assert error["details"][0]["loc"] == ["query", "limit"]

    async def test_a_limit_of_100_is_accepted(self, client: httpx.AsyncClient) -> None:
        response = await client.get("/api/v1/entries", params={"limit": 100})

        assert len(response.json()["items"]) == 30

    async def test_an_overlong_cursor_is_refused(self, client: httpx.AsyncClient) -> None:
        response = await client.get("/api/v1/entries", params={"cursor": "A" * 513})

        error = assert_error(response, 422, "validation_error")
        assert error["details"][0]["loc"] == ["query", "cursor"]

    async def test_a_forged_cursor_is_422_invalid_cursor(self, client: httpx.AsyncClient) -> None:
        forged = cursor_of(b'["2025-01-01", "robert\'); DROP TABLE entry;--"]')

        response = await client.get("/api/v1/entries", params={"cursor": forged})

        error = assert_error(response, 422, "invalid_cursor")
        assert error["message"] == "The cursor is not valid for this list."
