"""The consumer loop, driven round by round in the test's process, against the real Redis stream
and the real chain: acknowledgement after commit, redelivery, take-over of abandoned entries,
poison entries to the dead-letter stream, outages waited out."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import pytest
from prometheus_client import CollectorRegistry
from redis.asyncio import Redis

from activity_service.consumer import AuditConsumer, ConsumerMetrics, create_consumer, create_redis
from activity_service.consumer.stream_consumer import MAX_RETRIES_FROM_MEMORY
from activity_service.services.chain_writer import is_outage
from activity_service.settings import ActivitySettings
from common.audit import MAX_EVENT_BYTES, AuditEvent
from common.db import Database
from common.testing import free_port

from ..conftest import MakeEvent, Sql, Trail

MakeConsumer = Callable[..., AuditConsumer]
CLAIM_IDLE = 0.25  # a little over AUDIT_CONSUMER_CLAIM_IDLE_MS of the tests


@pytest.fixture
async def make_consumer(
    settings: ActivitySettings, database: Database
) -> AsyncIterator[MakeConsumer]:
    """`make_consumer(name=..., db=..., **settings)`: a consumer of the test's stream."""
    clients: list[Redis] = []

    def make(name: str = "worker-1", db: Database | None = None, **overrides: Any) -> AuditConsumer:
        own = settings.model_copy(update=overrides)
        client = create_redis(own)
        clients.append(client)
        return create_consumer(
            own,
            redis=client,
            database=db or database,
            name=name,
            metrics=ConsumerMetrics(CollectorRegistry()),
        )

    yield make
    for client in clients:
        await client.aclose()


@pytest.fixture
async def consumer(make_consumer: MakeConsumer) -> AuditConsumer:
    worker = make_consumer()
    await worker.ensure_group()
    return worker


def metric(worker: AuditConsumer, name: str) -> float:
    assert worker.metrics is not None
    return worker.metrics.registry.get_sample_value(f"audit_consumer_{name}_total") or 0.0


def poisoned(event: AuditEvent, **changes: Any) -> dict[bytes, bytes]:
    """The fields of an entry holding `event` with some of its JSON replaced, as a buggy or
    hostile producer could publish it."""
    document = json.loads(event.to_json())
    document.update(changes)
    return {b"event": json.dumps(document).encode()}


async def refuse_action(sql: Sql, action: str, sqlstate: str) -> None:
    """A trigger that makes PostgreSQL refuse rows of `action` with an error of `sqlstate`."""
    await sql(
        "CREATE FUNCTION activity.test_refuse() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN "
        f"IF NEW.action = '{action}' THEN "
        f"RAISE EXCEPTION 'refused by the test' USING ERRCODE = '{sqlstate}'; "
        "END IF; RETURN NEW; END $$"
    )
    await sql(
        "CREATE TRIGGER test_refuse BEFORE INSERT ON activity.event "
        "FOR EACH ROW EXECUTE FUNCTION activity.test_refuse()"
    )


async def drop_refusal(sql: Sql) -> None:
    await sql("DROP TRIGGER IF EXISTS test_refuse ON activity.event")
    await sql("DROP FUNCTION IF EXISTS activity.test_refuse()")


async def eventually(check: Callable[[], Awaitable[bool]], seconds: float = 5.0) -> None:
    for _ in range(int(seconds / 0.02)):
        if await check():
            return
        await asyncio.sleep(0.02)
    raise AssertionError("condition not met in time")


class TestGroup:
    async def test_is_created_at_the_start_of_the_stream_and_again_without_harm(
        self, consumer: AuditConsumer, trail: Trail
    ) -> None:
        await consumer.ensure_group()  # a second consumer starting
        groups = await trail.redis.xinfo_groups(trail.stream)
        assert [(g["name"], g["last-delivered-id"]) for g in groups] == [(b"activity", b"0-0")]

    async def test_entries_published_before_the_group_existed_are_read(
        self, make_consumer: MakeConsumer, trail: Trail, make_event: MakeEvent
    ) -> None:
        event = make_event()
        await trail.publish(event)
        worker = make_consumer()
        await worker.ensure_group()
        await worker.step()
        assert await trail.stored() == [event.id]


class TestStoring:
    async def test_stores_a_batch_in_order_and_acknowledges_it(
        self, consumer: AuditConsumer, trail: Trail, make_event: MakeEvent
    ) -> None:
        events = [make_event() for _ in range(5)]
        await trail.publish(*events)
        assert await consumer.step() == 5
        assert await trail.stored() == [e.id for e in events]
        assert await trail.pending() == {}
        assert (await trail.verify()).checked == 5
        assert metric(consumer, "events_stored") == 5

    async def test_reads_in_batches_of_the_configured_size(
        self, make_consumer: MakeConsumer, trail: Trail, make_event: MakeEvent
    ) -> None:
        worker = make_consumer(audit_consumer_batch_size=3)
        await worker.ensure_group()
        await trail.publish(*(make_event() for _ in range(7)))
        assert [await worker.step() for _ in range(4)] == [3, 3, 1, 0]
        assert await trail.count() == 7

    async def test_a_redelivered_event_is_stored_once_and_acknowledged(
        self, consumer: AuditConsumer, trail: Trail, make_event: MakeEvent
    ) -> None:
        """The relay delivers at least once: the same event can come again in the same batch
        and in a later one."""
        first, second, third = make_event(), make_event(), make_event()
        await trail.publish(first, second, first)
        await consumer.step()
        await trail.publish(second, third)
        await consumer.step()
        assert await trail.stored() == [first.id, second.id, third.id]
        assert await trail.pending() == {}
        assert (await trail.verify()).checked == 3
        assert metric(consumer, "duplicates") == 2


class TestTakeOver:
    async def test_entries_left_by_a_dead_consumer_are_taken_over_after_the_idle_time(
        self, consumer: AuditConsumer, trail: Trail, make_event: MakeEvent
    ) -> None:
        events = [make_event() for _ in range(3)]
        await trail.publish(*events)
        # A consumer that read them and died before storing them.
        await trail.redis.xreadgroup("activity", "ghost", {trail.stream: ">"}, count=10)
        assert len(await trail.pending()) == 3
        await consumer.step()
        assert await trail.stored() == []  # not idle long enough yet
        await asyncio.sleep(CLAIM_IDLE)
        await consumer.step()
        assert await trail.stored() == [e.id for e in events]
        assert await trail.pending() == {}
        assert metric(consumer, "claimed") == 3


class TestPoisonEntries:
    async def test_go_to_the_dead_letter_stream_after_n_deliveries_while_the_rest_flows(
        self, consumer: AuditConsumer, trail: Trail, make_event: MakeEvent
    ) -> None:
        good = [make_event() for _ in range(3)]
        ids = await trail.publish(
            good[0],
            {b"event": b"not json"},
            {b"event": b'{"v": 1, "service": "auth"}'},
            good[1],
            {b"event": b"\xff\xfe binary"},
            {b"something": b"else"},
            good[2],
        )
        poison = [ids[1], ids[2], ids[4], ids[5]]

        await consumer.step()  # delivery 1
        assert await trail.stored() == [e.id for e in good]
        assert await trail.pending() == dict.fromkeys(poison, 1)
        await asyncio.sleep(CLAIM_IDLE)
        await consumer.step()  # taken over again: delivery 2
        assert await trail.pending() == dict.fromkeys(poison, 2)
        assert await trail.dead_letters() == []
        await asyncio.sleep(CLAIM_IDLE)
        await consumer.step()  # delivery 3 of AUDIT_CONSUMER_MAX_DELIVERIES=3

        assert await trail.pending() == {}
        letters = await trail.dead_letters()
        assert [letter[b"original_id"] for letter in letters] == poison
        not_json, invalid, binary, no_event = letters
        assert not_json == {
            b"event": b"not json",
            b"reason": not_json[b"reason"],
            b"original_id": ids[1],
            b"deliveries": b"3",
            b"consumer": b"worker-1",
        }
        assert not_json[b"reason"].startswith(b"not valid JSON")
        assert invalid[b"reason"].startswith(b"not a valid audit event: action: Field required")
        assert binary[b"event"] == b"\xff\xfe binary"
        assert (no_event[b"something"], no_event[b"reason"]) == (
            b"else",
            b"the entry has no 'event' field",
        )
        assert await trail.stored() == [e.id for e in good]
        assert (await trail.verify()).ok is True
        assert metric(consumer, "dead_lettered") == 4

    async def test_a_row_the_database_refuses_is_isolated_from_its_batch(
        self, consumer: AuditConsumer, trail: Trail, make_event: MakeEvent
    ) -> None:
        await trail.sql(
            "ALTER TABLE activity.event ADD CONSTRAINT test_refuse CHECK (action <> 'bad.row')"
        )
        try:
            before, bad, after = make_event(), make_event(action="bad.row"), make_event()
            ids = await trail.publish(before, bad, after)
            await consumer.step()
            assert await trail.stored() == [before.id, after.id]
            assert await trail.pending() == {ids[1]: 1}
            for _ in range(2):
                await asyncio.sleep(CLAIM_IDLE)
                await consumer.step()
        finally:
            await trail.sql("ALTER TABLE activity.event DROP CONSTRAINT test_refuse")
        (letter,) = await trail.dead_letters()
        assert letter[b"original_id"] == ids[1]
        assert letter[b"reason"].startswith(b"rejected by the database: CheckViolationError")
        assert await trail.pending() == {}
        assert (await trail.verify()).checked == 2

    async def test_an_event_that_breaks_the_parser_is_dead_lettered_while_the_rest_flows(
        self, consumer: AuditConsumer, trail: Trail, make_event: MakeEvent
    ) -> None:
        """Midnight of year 1 at UTC+1 is a valid ISO 8601 time that has no UTC value: it once
        raised OverflowError outside validation, and the consumer retried its batch forever."""
        before, after = make_event(), make_event()
        ids = await trail.publish(
            before, poisoned(make_event(), occurred_at="0001-01-01T00:00:00+01:00"), after
        )
        stop = asyncio.Event()
        task = asyncio.create_task(consumer.run(stop))

        async def dead_lettered() -> bool:
            return len(await trail.dead_letters()) == 1

        try:
            await eventually(dead_lettered)
        finally:
            stop.set()
            await asyncio.wait_for(task, 5)
        (letter,) = await trail.dead_letters()
        assert (letter[b"original_id"], letter[b"deliveries"]) == (ids[1], b"3")
        assert letter[b"reason"] == (
            b"not a valid audit event: occurred_at: "
            b"Value error, the time is out of range once converted to UTC"
        )
        assert await trail.stored() == [before.id, after.id]
        assert await trail.pending() == {}
        assert metric(consumer, "errors") == 0

    async def test_values_that_cannot_be_stored_are_dead_lettered_with_the_reason(
        self, consumer: AuditConsumer, trail: Trail, make_event: MakeEvent
    ) -> None:
        """Each poisoned entry between two good ones: the good ones are stored at once, each
        poisoned one is dead-lettered after its deliveries with a reason that names the field."""
        nested: Any = "deep"
        for _ in range(40):
            nested = [nested]
        poisons: list[tuple[dict[bytes, bytes], bytes]] = [
            (
                poisoned(make_event(), occurred_at="9999-12-31T23:30:00-01:00"),
                b"not a valid audit event: occurred_at: Value error, the time is out of range",
            ),
            (
                poisoned(make_event(), occurred_at="10000-01-01T00:00:00Z"),
                b"not a valid audit event: occurred_at: Input should be a valid datetime",
            ),
            (
                poisoned(make_event(), occurred_at=1e300),
                b"not a valid audit event: occurred_at: Value error, an ISO 8601 time",
            ),
            (
                poisoned(make_event(), metadata={"ratio": float("nan")}),
                b"not a valid audit event: metadata: Value error, metadata holds a number",
            ),
            (
                poisoned(make_event(), metadata={"big": float("inf")}),
                b"not a valid audit event: metadata: Value error, metadata holds a number",
            ),
            (
                poisoned(make_event(), metadata={"deep": nested}),
                b"not a valid audit event: metadata: Value error, metadata is nested deeper",
            ),
            (
                poisoned(make_event(), metadata={"note": "a\x00b"}),
                b"metadata contains a NUL character",
            ),
            (
                poisoned(make_event(), metadata={"a\x00b": 1}),
                b"metadata key contains a NUL character",
            ),
            (
                poisoned(make_event(), actor={"type": "user", "id": "u\x00"}),
                b"actor.id contains a NUL character",
            ),
            (
                poisoned(make_event(), v=2),
                b"not a valid audit event: v: Input should be 1",
            ),
            (
                poisoned(make_event(), metadata={"blob": "x" * MAX_EVENT_BYTES}),
                b"the event is larger than",
            ),
        ]
        good = [make_event() for _ in range(len(poisons) + 1)]
        items: list[AuditEvent | dict[bytes, bytes]] = [good[0]]
        for (fields, _), event in zip(poisons, good[1:], strict=True):
            items += [fields, event]
        ids = await trail.publish(*items)

        await consumer.step()
        assert await trail.stored() == [e.id for e in good]
        for _ in range(2):
            await asyncio.sleep(CLAIM_IDLE)
            await consumer.step()

        letters = await trail.dead_letters()
        assert [letter[b"original_id"] for letter in letters] == ids[1::2]
        for letter, (fields, reason) in zip(letters, poisons, strict=True):
            assert letter[b"event"] == fields[b"event"]
            assert letter[b"reason"].startswith(reason), letter[b"reason"]
        assert await trail.pending() == {}
        assert (await trail.verify()).checked == len(good)
        assert metric(consumer, "errors") == 0

    @pytest.mark.parametrize(
        "sqlstate",
        [
            "P0001",  # raise_exception: a trigger or rule that refuses the row
            "42501",  # insufficient_privilege, e.g. a row-level policy
            "40001",  # serialization_failure
            "XX000",  # internal_error
        ],
    )
    async def test_any_refusal_that_is_not_a_lost_connection_is_the_entry_s_failure(
        self,
        consumer: AuditConsumer,
        trail: Trail,
        make_event: MakeEvent,
        sql: Sql,
        sqlstate: str,
    ) -> None:
        await refuse_action(sql, "bad.row", sqlstate)
        try:
            before, bad, after = make_event(), make_event(action="bad.row"), make_event()
            ids = await trail.publish(before, bad, after)
            await consumer.step()
            assert await trail.stored() == [before.id, after.id]
            assert await trail.pending() == {ids[1]: 1}
            for _ in range(2):
                await asyncio.sleep(CLAIM_IDLE)
                await consumer.step()
        finally:
            await drop_refusal(sql)
        (letter,) = await trail.dead_letters()
        assert letter[b"original_id"] == ids[1]
        assert letter[b"reason"].startswith(b"rejected by the database: ")
        assert b"refused by the test" in letter[b"reason"]
        assert (await trail.verify()).checked == 2
        assert metric(consumer, "errors") == 0


class TestOutages:
    async def test_nothing_is_dead_lettered_while_postgresql_is_unreachable(
        self,
        make_consumer: MakeConsumer,
        settings: ActivitySettings,
        trail: Trail,
        make_event: MakeEvent,
    ) -> None:
        nowhere = f"postgresql+asyncpg://postgres@127.0.0.1:{free_port()}/x"
        unreachable = Database(settings.model_copy(update={"database_url": nowhere}))
        broken = make_consumer(name="cut-off", db=unreachable, audit_consumer_max_deliveries=1)
        events = [make_event() for _ in range(3)]
        ids = await trail.publish(*events)
        stop = asyncio.Event()
        task = asyncio.create_task(broken.run(stop))
        await asyncio.sleep(0.8)  # several rounds, and take-overs of its own entries
        stop.set()
        await asyncio.wait_for(task, 5)
        await unreachable.dispose()
        assert await trail.dead_letters() == []
        assert set(await trail.pending()) == set(ids)  # kept for another try
        assert metric(broken, "errors") >= 2

        healthy = make_consumer(name="healthy")
        await asyncio.sleep(CLAIM_IDLE)
        await healthy.step()
        assert await trail.stored() == [e.id for e in events]
        assert await trail.pending() == {}

    async def test_a_connection_lost_in_the_middle_of_a_batch_is_an_outage(
        self, make_consumer: MakeConsumer, trail: Trail, make_event: MakeEvent, sql: Sql
    ) -> None:
        """The server ends the session while the batch is being written (as an administrator's
        pg_terminate_backend or a restart does): nothing is the entries' fault."""
        worker = make_consumer(audit_consumer_max_deliveries=1)
        await worker.ensure_group()
        await sql("CREATE TABLE activity.test_cut (on_ boolean)")
        await sql("INSERT INTO activity.test_cut VALUES (true)")
        await sql(
            "CREATE FUNCTION activity.test_cut() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN "
            "IF EXISTS (SELECT 1 FROM activity.test_cut) THEN "
            "PERFORM pg_terminate_backend(pg_backend_pid()); END IF; RETURN NEW; END $$"
        )
        await sql(
            "CREATE TRIGGER test_cut BEFORE INSERT ON activity.event "
            "FOR EACH ROW EXECUTE FUNCTION activity.test_cut()"
        )
        try:
            events = [make_event() for _ in range(3)]
            ids = await trail.publish(*events)
            # Which error says so is the driver's choice (today: the transaction cannot end).
            with pytest.raises(Exception) as raised:  # noqa: PT011
                await worker.step()
            assert is_outage(raised.value), repr(raised.value)
            assert await trail.dead_letters() == []
            assert set(await trail.pending()) == set(ids)
            await sql("DELETE FROM activity.test_cut")
            await worker.step()  # tried again from memory, on a new connection
        finally:
            await sql("DROP TRIGGER IF EXISTS test_cut ON activity.event")
            await sql("DROP FUNCTION IF EXISTS activity.test_cut()")
            await sql("DROP TABLE IF EXISTS activity.test_cut")
        assert await trail.stored() == [e.id for e in events]
        assert await trail.pending() == {}
        assert await trail.dead_letters() == []

    async def test_a_pool_timeout_is_an_outage(
        self,
        make_consumer: MakeConsumer,
        settings: ActivitySettings,
        trail: Trail,
        make_event: MakeEvent,
    ) -> None:
        tiny = Database(
            settings.model_copy(
                update={"db_pool_size": 1, "db_max_overflow": 0, "db_pool_timeout": 0.1}
            )
        )
        try:
            worker = make_consumer(db=tiny, audit_consumer_max_deliveries=1)
            await worker.ensure_group()
            events = [make_event() for _ in range(2)]
            ids = await trail.publish(*events)
            async with tiny.engine.connect():  # someone holds the only connection
                with pytest.raises(Exception, match="QueuePool limit"):
                    await worker.step()
            assert await trail.dead_letters() == []
            assert set(await trail.pending()) == set(ids)
            await worker.step()
            assert await trail.stored() == [e.id for e in events]
        finally:
            await tiny.dispose()

    async def test_a_batch_is_retried_from_memory_a_bounded_number_of_times(
        self,
        make_consumer: MakeConsumer,
        settings: ActivitySettings,
        trail: Trail,
        make_event: MakeEvent,
    ) -> None:
        """Then it is left to the group (any consumer takes it over once idle) and this one goes
        on: a batch that never succeeds cannot hold a consumer forever."""
        nowhere = f"postgresql+asyncpg://postgres@127.0.0.1:{free_port()}/x"
        unreachable = Database(settings.model_copy(update={"database_url": nowhere}))
        try:
            worker = make_consumer(
                name="cut-off", db=unreachable, audit_consumer_claim_idle_ms=60_000
            )
            await worker.ensure_group()
            first = await trail.publish(make_event(), make_event())
            for _ in range(1 + MAX_RETRIES_FROM_MEMORY):  # read once, then from memory
                with pytest.raises(ConnectionRefusedError):
                    await worker.step()
                assert set(await trail.pending()) == set(first)
            later = await trail.publish(make_event())
            with pytest.raises(ConnectionRefusedError):
                await worker.step()  # reads the stream again
            assert await trail.pending() == dict.fromkeys(first, 1) | dict.fromkeys(later, 1)
        finally:
            await unreachable.dispose()


class TestRun:
    async def test_stops_when_told_and_leaves_the_group_when_nothing_is_pending(
        self, consumer: AuditConsumer, trail: Trail, make_event: MakeEvent
    ) -> None:
        stop = asyncio.Event()
        task = asyncio.create_task(consumer.run(stop))
        await trail.publish(make_event(), make_event())

        async def both_stored() -> bool:
            return await trail.count() == 2

        await eventually(both_stored)
        assert await trail.consumers() == ["worker-1"]
        stop.set()
        await asyncio.wait_for(task, 2)
        assert await trail.consumers() == []

    async def test_the_group_is_created_again_if_the_stream_disappears(
        self, consumer: AuditConsumer, trail: Trail, make_event: MakeEvent
    ) -> None:
        stop = asyncio.Event()
        task = asyncio.create_task(consumer.run(stop))
        await asyncio.sleep(0.1)
        await trail.redis.delete(trail.stream)
        await asyncio.sleep(0.1)
        event = make_event()
        await trail.publish(event)

        async def stored() -> bool:
            return await trail.stored() == [event.id]

        try:
            await eventually(stored)
        finally:
            stop.set()
            await asyncio.wait_for(task, 2)
