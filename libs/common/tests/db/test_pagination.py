"""Keyset pagination: every row exactly once across pages, stable under concurrent inserts, and
opaque cursors that are refused with a 422 when they do not decode."""

from __future__ import annotations

import json
import uuid
from collections.abc import AsyncIterator, Callable, Sequence
from contextlib import AbstractAsyncContextManager
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from fastapi import APIRouter, FastAPI
from sqlalchemy import MetaData, String, select
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession
from sqlalchemy.orm import Mapped, mapped_column

from common.db import (
    Base,
    PageParams,
    PageResponse,
    Timestamps,
    UUIDPrimaryKey,
    decode_cursor,
    encode_cursor,
    new_metadata,
    paginate,
)
from common.dependencies import PageParamsDep, SessionDep
from common.errors import InvalidCursor
from common.schemas import ResponseModel
from common.testing import assert_error, cursor_of, reforged

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
    label: Mapped[str] = mapped_column(String(8), default="")


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


LIST = "list-of-tests"
TIME = "2025-01-01T00:00:00+00:00"
ID = "0b7e3e8a-5f1c-4c1e-9a51-2d3c4b5a6978"


def forged(after: bytes, *, list_id: bytes = LIST.encode()) -> str:
    """A cursor of the right list whose sort key is the JSON `after`, verbatim."""
    return cursor_of(b'{"list":"' + list_id + b'","after":' + after + b"}")


def document(value: Any) -> str:
    """A cursor wrapping the JSON of `value`."""
    return cursor_of(json.dumps(value).encode())


def refused(cursor: str, columns: Sequence[Any], *, list_id: str = LIST) -> InvalidCursor:
    with pytest.raises(InvalidCursor) as caught:
        decode_cursor(cursor, columns, list_id=list_id)
    return caught.value


class TestCursorCodec:
    def test_a_cursor_round_trips_timestamps_and_uuids(self) -> None:
        values = [START + timedelta(microseconds=123), uuid.uuid4()]

        assert decode_cursor(encode_cursor(values, list_id=LIST), ORDER, list_id=LIST) == values

    def test_a_cursor_round_trips_integers_and_text(self) -> None:
        values = [17, "ünï"]
        columns = [Entry.position, Entry.label]

        assert decode_cursor(encode_cursor(values, list_id=LIST), columns, list_id=LIST) == values

    def test_a_cursor_is_url_safe_text(self) -> None:
        cursor = encode_cursor([START, uuid.UUID(int=2**128 - 1)], list_id=LIST)

        assert set(cursor) <= set(
            "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
        )

    def test_a_cursor_of_another_list_is_refused(self) -> None:
        cursor = encode_cursor([START, uuid.uuid4()], list_id="another-list")

        error = refused(cursor, ORDER)

        assert (error.status_code, error.code) == (422, "invalid_cursor")

    @pytest.mark.parametrize(
        "cursor",
        [
            pytest.param("%%%", id="not base64"),
            pytest.param("é", id="not ascii"),
            pytest.param("' OR 1=1 --", id="sql"),
            pytest.param("", id="empty"),
            pytest.param("A", id="truncated base64"),
            pytest.param(cursor_of(b"[true]") + "==", id="padding"),
            pytest.param(cursor_of(b"not json"), id="not json"),
            pytest.param(cursor_of(b"\xff\xfe"), id="not utf-8"),
            pytest.param(cursor_of(b"[true]"), id="a list"),
            pytest.param(cursor_of(b'"x"'), id="a string"),
            pytest.param(cursor_of(b"1"), id="a number"),
            pytest.param(cursor_of(b"NaN"), id="nan"),
            pytest.param(cursor_of(b"null"), id="null"),
            pytest.param(cursor_of(b"{}"), id="an empty object"),
            pytest.param(cursor_of(b"[" * 5000 + b"]" * 5000), id="deep nesting"),
            pytest.param(document({"list": LIST}), id="no key"),
            pytest.param(document({"after": [TIME, ID]}), id="no list"),
            pytest.param(document({"list": LIST, "after": [TIME, ID], "x": 1}), id="extra member"),
            pytest.param(document({"list": "other", "after": [TIME, ID]}), id="other list"),
            pytest.param(document({"list": 1, "after": [TIME, ID]}), id="list not text"),
            pytest.param(document({"list": LIST, "after": TIME}), id="key not a list"),
            pytest.param(document({"list": LIST, "after": []}), id="empty key"),
            pytest.param(document({"list": LIST, "after": [TIME]}), id="short key"),
            pytest.param(document({"list": LIST, "after": [TIME, ID, 1]}), id="long key"),
            pytest.param(document({"list": LIST, "after": [TIME, ID]}) + "A", id="one more char"),
        ],
    )
    def test_a_cursor_that_is_not_one_of_ours_is_refused(self, cursor: str) -> None:
        error = refused(cursor, ORDER)

        assert (error.status_code, error.code) == (422, "invalid_cursor")

    @pytest.mark.parametrize(
        "after",
        [
            pytest.param([12, ID], id="number for a time"),
            pytest.param([True, ID], id="boolean for a time"),
            pytest.param([None, ID], id="null for a time"),
            pytest.param([[TIME], ID], id="list for a time"),
            pytest.param([{"a": 1}, ID], id="object for a time"),
            pytest.param(["yesterday", ID], id="not a time"),
            pytest.param(["2025-01-01T00:00:00", ID], id="time without zone"),
            pytest.param(["2025-01-01", ID], id="a date"),
            pytest.param(["2025-13-01T00:00:00+00:00", ID], id="month 13"),
            pytest.param(["0001-01-01T00:00:00+01:00", ID], id="no UTC value"),
            pytest.param(["10000-01-01T00:00:00+00:00", ID], id="year 10000"),
            pytest.param([TIME, "not-a-uuid"], id="not a uuid"),
            pytest.param([TIME, 12], id="number for a uuid"),
            pytest.param([TIME, True], id="boolean for a uuid"),
            pytest.param([TIME, ID.upper()], id="uuid in upper case"),
            pytest.param([TIME, "{" + ID + "}"], id="uuid in braces"),
            pytest.param([TIME, uuid.UUID(ID).hex], id="uuid without hyphens"),
        ],
    )
    def test_a_key_part_of_the_wrong_type_is_refused(self, after: list[Any]) -> None:
        refused(forged(json.dumps(after).encode()), ORDER)

    @pytest.mark.parametrize(
        "after",
        [
            pytest.param(b"[true]", id="true"),
            pytest.param(b"[false]", id="false"),
            pytest.param(b"[1.5]", id="a fraction"),
            pytest.param(b"[1.0]", id="a float"),
            pytest.param(b'["5"]', id="text"),
            pytest.param(b"[null]", id="null"),
            pytest.param(b"[2147483648]", id="beyond the column's range"),
            pytest.param(b"[-2147483649]", id="below the column's range"),
            pytest.param(b"[1e400]", id="infinite"),
            pytest.param(b"[NaN]", id="nan"),
            pytest.param(b"[-Infinity]", id="minus infinity"),
            pytest.param(b"[" + b"9" * 5000 + b"]", id="5000 digits"),
        ],
    )
    def test_an_integer_key_must_be_an_integer_the_column_holds(self, after: bytes) -> None:
        refused(forged(after), [Entry.position])

    @pytest.mark.parametrize("value", [2**31 - 1, -(2**31), 0])
    def test_integers_at_the_ends_of_the_column_s_range_are_keys(self, value: int) -> None:
        assert decode_cursor(forged(b"[%d]" % value), [Entry.position], list_id=LIST) == [value]

    @pytest.mark.parametrize(
        "after",
        [
            pytest.param(b"[1]", id="a number"),
            pytest.param(b"[null]", id="null"),
            pytest.param(b"[true]", id="a boolean"),
            pytest.param(b'["a\\u0000b"]', id="a NUL character"),
            pytest.param(b'["\\ud800"]', id="a lone surrogate"),
            pytest.param(b'["123456789"]', id="longer than the column"),
        ],
    )
    def test_a_text_key_must_be_text_the_column_holds(self, after: bytes) -> None:
        refused(forged(after), [Entry.label])


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

    async def test_the_page_size_may_change_from_page_to_page(self, session: AsyncSession) -> None:
        await add_entries(session, range(10))
        first = await paginate(session, select(Entry), order_by=ORDER, params=PageParams(limit=2))

        second = await paginate(
            session,
            select(Entry),
            order_by=ORDER,
            params=PageParams(limit=5, cursor=first.next_cursor),
        )

        assert [e.position for e in second.items] == [7, 6, 5, 4, 3]


class TestCursorOfAnotherList:
    """A cursor is the position in one list: the same query (filter values included), sort
    columns and direction. Anywhere else it is refused rather than read as a position."""

    @pytest.fixture
    async def cursor(self, session: AsyncSession) -> str:
        await add_entries(session, range(10))
        statement = select(Entry).where(Entry.position > 1)
        page = await paginate(session, statement, order_by=ORDER, params=PageParams(limit=2))
        assert page.next_cursor is not None
        return page.next_cursor

    @pytest.mark.parametrize(
        ("statement", "order_by", "descending"),
        [
            pytest.param(select(Entry), ORDER, True, id="without the filter"),
            pytest.param(select(Entry).where(Entry.position > 2), ORDER, True, id="other value"),
            pytest.param(select(Entry).where(Entry.position < 1), ORDER, True, id="other filter"),
            pytest.param(
                select(Entry).where(Entry.position > 1), ORDER, False, id="other direction"
            ),
            pytest.param(
                select(Entry).where(Entry.position > 1),
                [Entry.updated_at, Entry.id],
                True,
                id="other sort columns of the same types",
            ),
        ],
    )
    async def test_is_refused(
        self,
        session: AsyncSession,
        cursor: str,
        statement: Any,
        order_by: list[Any],
        descending: bool,
    ) -> None:
        with pytest.raises(InvalidCursor):
            await paginate(
                session,
                statement,
                order_by=order_by,
                params=PageParams(cursor=cursor),
                descending=descending,
            )

    async def test_the_same_list_takes_it(self, session: AsyncSession, cursor: str) -> None:
        page = await paginate(
            session,
            select(Entry).where(Entry.position > 1),
            order_by=ORDER,
            params=PageParams(limit=3, cursor=cursor),
        )

        assert [e.position for e in page.items] == [7, 6, 5]


router = APIRouter()


@router.get("/entries")
async def list_entries(session: SessionDep, params: PageParamsDep) -> PageResponse[EntryOut]:
    page = await paginate(session, select(Entry), order_by=ORDER, params=params)
    return PageResponse[EntryOut].from_page(page)


@router.get("/entries/even")
async def list_even_entries(session: SessionDep, params: PageParamsDep) -> PageResponse[EntryOut]:
    statement = select(Entry).where(Entry.position % 2 == 0)
    page = await paginate(session, statement, order_by=ORDER, params=params)
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

    @pytest.mark.parametrize(
        "after",
        [
            [True],
            [True, True],
            ["2025-01-01T00:00:00+00:00", "robert'); DROP TABLE entry;--"],
            ["0001-01-01T00:00:00+01:00", ID],
            [2**70, ID],
        ],
    )
    async def test_a_real_cursor_with_a_forged_key_is_422_invalid_cursor(
        self, client: httpx.AsyncClient, after: list[Any]
    ) -> None:
        first = await client.get("/api/v1/entries", params={"limit": 1})

        forged = reforged(first.json()["next_cursor"], after=after)
        response = await client.get("/api/v1/entries", params={"cursor": forged})

        assert_error(response, 422, "invalid_cursor")

    async def test_a_cursor_of_another_list_is_422_invalid_cursor(
        self, client: httpx.AsyncClient
    ) -> None:
        first = await client.get("/api/v1/entries", params={"limit": 1})

        response = await client.get(
            "/api/v1/entries/even", params={"cursor": first.json()["next_cursor"]}
        )

        assert_error(response, 422, "invalid_cursor")
