"""Keyset (cursor) pagination: stable pages under concurrent inserts, constant cost at any depth.

A cursor is the sort key of the last row of a page, as url-safe base64 JSON. It is opaque to
clients; a cursor that does not decode, or does not match the sort columns, is a 422.
"""

from __future__ import annotations

import base64
import binascii
import json
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Annotated, Any, Generic, Self, TypeVar

from fastapi import Depends, Query
from pydantic import BaseModel
from sqlalchemy import Select, tuple_
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import InstrumentedAttribute

from common.errors import InvalidCursor

T = TypeVar("T")
ItemT = TypeVar("ItemT")

MAX_LIMIT = 100
DEFAULT_LIMIT = 20


@dataclass(frozen=True, slots=True)
class PageParams:
    limit: int = DEFAULT_LIMIT
    cursor: str | None = None


async def _page_params(
    limit: Annotated[int, Query(ge=1, le=MAX_LIMIT, description="Items per page.")] = DEFAULT_LIMIT,
    cursor: Annotated[
        str | None,
        Query(max_length=512, description="`next_cursor` of the previous page."),
    ] = None,
) -> PageParams:
    return PageParams(limit=limit, cursor=cursor)


PageParamsDep = Annotated[PageParams, Depends(_page_params)]


@dataclass(frozen=True, slots=True)
class Page(Generic[T]):
    items: list[T]
    next_cursor: str | None


class PageResponse(BaseModel, Generic[ItemT]):
    """The list shape of every endpoint: `{"items": [...], "next_cursor": "..." | null}`."""

    items: list[ItemT]
    next_cursor: str | None

    @classmethod
    def from_page(cls, page: Page[Any]) -> Self:
        """`PageResponse[UserResponse].from_page(page)`: validates the page's ORM rows into the
        item schema."""
        return cls.model_validate(
            {"items": page.items, "next_cursor": page.next_cursor}, from_attributes=True
        )


def _encode_value(value: Any) -> Any:
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, uuid.UUID):
        return str(value)
    return value


def _decode_value(raw: Any, column: InstrumentedAttribute[Any]) -> Any:
    python_type = column.type.python_type
    if python_type is datetime:
        value = datetime.fromisoformat(raw)
        if value.tzinfo is None:
            raise ValueError("naive timestamp")
        return value
    if python_type is uuid.UUID:
        return uuid.UUID(raw)
    if not isinstance(raw, python_type):
        raise TypeError(f"expected {python_type.__name__}")
    return raw


def encode_cursor(values: Sequence[Any]) -> str:
    payload = json.dumps([_encode_value(v) for v in values], separators=(",", ":"))
    return base64.urlsafe_b64encode(payload.encode()).decode().rstrip("=")


def decode_cursor(cursor: str, columns: Sequence[InstrumentedAttribute[Any]]) -> list[Any]:
    try:
        padded = cursor + "=" * (-len(cursor) % 4)
        raw = json.loads(base64.urlsafe_b64decode(padded.encode("ascii")))
        if not isinstance(raw, list) or len(raw) != len(columns):
            raise ValueError("cursor does not match the sort columns")
        return [_decode_value(v, c) for v, c in zip(raw, columns, strict=True)]
    except (ValueError, TypeError, binascii.Error, UnicodeError) as exc:
        raise InvalidCursor from exc


async def paginate(
    session: AsyncSession,
    statement: Select[T],
    *,
    order_by: Sequence[InstrumentedAttribute[Any]],
    params: PageParams,
    descending: bool = True,
) -> Page[T]:
    """Run `statement` one page at a time, ordered by `order_by` (whose last column is unique)."""
    if params.cursor is not None:
        after = decode_cursor(params.cursor, order_by)
        key = tuple_(*order_by)
        statement = statement.where(key < tuple_(*after) if descending else key > tuple_(*after))
    ordering = [c.desc() if descending else c.asc() for c in order_by]
    rows = list(
        (await session.scalars(statement.order_by(*ordering).limit(params.limit + 1))).all()
    )
    if len(rows) <= params.limit:
        return Page(items=rows, next_cursor=None)
    rows = rows[: params.limit]
    last = rows[-1]
    return Page(items=rows, next_cursor=encode_cursor([getattr(last, c.key) for c in order_by]))
