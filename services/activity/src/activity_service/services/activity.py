"""Reading the audit trail: lists with filters, one event, exports. Anyone signed in reads the
events they are the actor of; `activity:read` reads everyone's."""

from __future__ import annotations

import dataclasses
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession

from activity_service.crud import EventRepository
from activity_service.exceptions import EventNotFound, InvalidTimeRange
from activity_service.models import Event
from activity_service.schemas import EventFilters
from activity_service.services.export import (
    FORMATS,
    ExportFormat,
    csv_header,
    csv_lines,
    ndjson_lines,
)
from common.db import Page, PageParams
from common.permissions.activity import ACTIVITY_READ
from common.security import Principal


@dataclass(frozen=True, slots=True)
class Export:
    filename: str
    media_type: str
    body: AsyncIterator[bytes]


class ActivityService:
    def __init__(self, session: AsyncSession, *, engine: AsyncEngine, batch_size: int) -> None:
        """`engine`: the export streams on a session of its own (the request's is closed once
        the route has returned, while the body is still being sent)."""
        self.events = EventRepository(session)
        self.engine = engine
        self.batch_size = batch_size

    async def search(self, *, filters: EventFilters, params: PageParams) -> Page[Event]:
        return await self.events.search(filters=_checked(filters), params=params)

    async def own(
        self, principal: Principal, *, filters: EventFilters, params: PageParams
    ) -> Page[Event]:
        """The events whose actor is the caller (`actor.id` = the token's subject)."""
        mine = dataclasses.replace(filters, actor_id=principal.subject)
        return await self.search(filters=mine, params=params)

    async def get(self, event_id: uuid.UUID, *, principal: Principal) -> Event:
        event = await self.events.get_by_event_id(event_id)
        if event is None:
            raise EventNotFound
        if event.actor_id != principal.subject and not principal.has_permissions(ACTIVITY_READ):
            raise EventNotFound
        return event

    async def export(self, *, filters: EventFilters, export_format: ExportFormat) -> Export:
        """The matching events, oldest first, streamed from a server-side cursor.

        Everything that can fail for a reason the client should hear about happens here, before
        the first byte goes out: the filters are checked, the connection is taken and the query
        has delivered its first batch. Once the answer has started its status cannot change, so
        a failure later (the database going away mid-export) can only cut the download short.
        """
        filters = _checked(filters)
        spec = FORMATS[export_format]
        stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
        body = self._export_body(filters, export_format)
        await anext(body)  # the query runs now; its errors become error answers
        return Export(
            filename=f"activity-{stamp}.{spec.extension}",
            media_type=spec.media_type,
            body=body,
        )

    async def _export_body(
        self, filters: EventFilters, export_format: ExportFormat
    ) -> AsyncIterator[bytes]:
        """Primed: its first item (empty) comes once the first batch has been read."""
        render = ndjson_lines if export_format is ExportFormat.NDJSON else csv_lines
        async with AsyncSession(self.engine) as session, session.begin():
            events = EventRepository(session)
            batches = events.stream(filters=filters, batch_size=self.batch_size)
            first = await anext(batches, None)
            yield b""
            if export_format is ExportFormat.CSV:
                yield csv_header()
            if first is not None:
                yield render(first)
            async for rows in batches:
                yield render(rows)


def _checked(filters: EventFilters) -> EventFilters:
    if filters.since is not None and filters.until is not None and filters.until <= filters.since:
        raise InvalidTimeRange
    return filters
