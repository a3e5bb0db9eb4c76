"""The reading service: rules that hold whatever the transport."""

from __future__ import annotations

import json
import uuid
from collections.abc import AsyncIterator
from datetime import datetime

import pytest

from activity_service.exceptions import EventNotFound, InvalidTimeRange
from activity_service.schemas import EventFilters
from activity_service.services.activity import ActivityService
from activity_service.services.export import ExportFormat
from activity_service.settings import ActivitySettings
from common.db import Database, PageParams
from common.security import Principal
from common.testing import free_port

from ..conftest import MakeEvent, Store


def principal(subject: str, *permissions: str) -> Principal:
    return Principal(
        subject=subject,
        roles=frozenset(),
        permissions=frozenset(permissions),
        token_id="t",
        expires_at=0,
    )


@pytest.fixture
async def service(database: Database) -> AsyncIterator[ActivityService]:
    async with database.sessionmaker() as session:
        yield ActivityService(session, engine=database.engine, batch_size=10)


class TestExport:
    async def test_streams_one_chunk_per_batch_of_the_cursor(
        self, service: ActivityService, store: Store, make_event: MakeEvent
    ) -> None:
        await store([make_event() for _ in range(25)])
        export = await service.export(filters=EventFilters(), export_format=ExportFormat.NDJSON)
        chunks = [chunk async for chunk in export.body]
        assert [chunk.count(b"\n") for chunk in chunks] == [10, 10, 5]
        seqs = [json.loads(line)["seq"] for chunk in chunks for line in chunk.splitlines()]
        assert seqs == list(range(1, 26))

    async def test_csv_starts_with_its_header(
        self, service: ActivityService, store: Store, make_event: MakeEvent
    ) -> None:
        await store([make_event()])
        export = await service.export(filters=EventFilters(), export_format=ExportFormat.CSV)
        chunks = [chunk async for chunk in export.body]
        assert chunks[0].startswith(b"seq,event_id,occurred_at,")
        assert export.media_type == "text/csv; charset=utf-8"
        assert export.filename.endswith(".csv")

    async def test_checks_the_filters_before_streaming(self, service: ActivityService) -> None:
        filters = EventFilters(
            since=datetime.fromisoformat("2026-03-02T00:00:00+00:00"),
            until=datetime.fromisoformat("2026-03-01T00:00:00+00:00"),
        )
        with pytest.raises(InvalidTimeRange):
            await service.export(filters=filters, export_format=ExportFormat.NDJSON)

    async def test_runs_the_query_before_the_first_byte(self, settings: ActivitySettings) -> None:
        """So that an unavailable database is an error of the call, which the route can still
        answer with a status, and not of the body, which is sent after the status."""
        nowhere = f"postgresql+asyncpg://postgres@127.0.0.1:{free_port()}/x"
        unreachable = Database(settings.model_copy(update={"database_url": nowhere}))
        try:
            async with unreachable.sessionmaker() as session:
                service = ActivityService(session, engine=unreachable.engine, batch_size=10)
                with pytest.raises(ConnectionRefusedError):
                    await service.export(filters=EventFilters(), export_format=ExportFormat.CSV)
        finally:
            await unreachable.dispose()

    async def test_an_export_of_nothing_is_empty(self, service: ActivityService) -> None:
        export = await service.export(filters=EventFilters(), export_format=ExportFormat.NDJSON)
        assert [chunk async for chunk in export.body] == []


class TestGet:
    async def test_hides_other_people_s_events(
        self, service: ActivityService, store: Store, make_event: MakeEvent
    ) -> None:
        event = make_event(actor_id="alice")
        await store([event])
        assert (await service.get(event.id, principal=principal("alice"))).seq == 1
        assert (await service.get(event.id, principal=principal("x", "activity:read"))).seq == 1
        with pytest.raises(EventNotFound):
            await service.get(event.id, principal=principal("bob"))
        with pytest.raises(EventNotFound):
            await service.get(uuid.uuid4(), principal=principal("alice"))


class TestOwn:
    async def test_is_scoped_to_the_subject_whatever_the_filters_say(
        self, service: ActivityService, store: Store, make_event: MakeEvent
    ) -> None:
        await store([make_event(actor_id="alice"), make_event(actor_id="bob")])
        page = await service.own(
            principal("alice"), filters=EventFilters(actor_id="bob"), params=PageParams()
        )
        assert [e.actor_id for e in page.items] == ["alice"]
