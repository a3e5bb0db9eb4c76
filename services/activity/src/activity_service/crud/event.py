"""Reads of `activity.event` for the query API, verification and export. The table is
append-only: there is nothing here that writes (the chain writer has its own statements in
`crud/chain_statements.py`)."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Sequence
from typing import Any

from sqlalchemy import Row, Select, select

from activity_service.models import Event
from activity_service.schemas.filters import EventFilters
from common.db import Page, PageParams, Repository, paginate

_COLUMNS = tuple(Event.__table__.columns)


def _filtered(statement: Select[Any], filters: EventFilters) -> Select[Any]:
    if filters.actor_id is not None:
        statement = statement.where(Event.actor_id == filters.actor_id)
    if filters.action is not None:
        statement = statement.where(Event.action == filters.action)
    if filters.resource_type is not None:
        statement = statement.where(Event.resource_type == filters.resource_type)
    if filters.resource_id is not None:
        statement = statement.where(Event.resource_id == filters.resource_id)
    if filters.since is not None:
        statement = statement.where(Event.occurred_at >= filters.since)
    if filters.until is not None:
        statement = statement.where(Event.occurred_at < filters.until)
    return statement


class EventRepository(Repository[Event]):
    model = Event

    async def search(self, *, filters: EventFilters, params: PageParams) -> Page[Event]:
        """Newest first (by `seq`), one keyset page."""
        statement: Select[Any] = _filtered(select(Event), filters)
        return await paginate(self.session, statement, order_by=[Event.seq], params=params)

    async def get_by_event_id(self, event_id: uuid.UUID) -> Event | None:
        return await self.session.scalar(select(Event).where(Event.event_id == event_id))

    async def links(self, *, after_seq: int, to_seq: int | None, limit: int) -> Sequence[Row[Any]]:
        """Up to `limit` whole rows with `seq > after_seq` (and `<= to_seq`), in chain order."""
        statement = select(*_COLUMNS).where(Event.seq > after_seq)
        if to_seq is not None:
            statement = statement.where(Event.seq <= to_seq)
        result = await self.session.execute(statement.order_by(Event.seq).limit(limit))
        return result.all()

    async def hash_at(self, seq: int) -> str | None:
        return await self.session.scalar(select(Event.hash).where(Event.seq == seq))

    async def stream(
        self, *, filters: EventFilters, batch_size: int
    ) -> AsyncIterator[Sequence[Row[Any]]]:
        """The matching rows oldest first, `batch_size` at a time, through a server-side cursor:
        memory stays flat however many rows match. Needs a transaction on the session."""
        statement = _filtered(select(*_COLUMNS), filters).order_by(Event.seq)
        result = await self.session.stream(statement.execution_options(yield_per=batch_size))
        async for partition in result.partitions():
            yield partition
