"""The outbox relay: committed events reach the stream once, in order, in batches; several
relays share the work; an outage of Redis delays events but loses none."""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Awaitable, Callable

import pytest
from prometheus_client import CollectorRegistry
from redis.asyncio import Redis
from redis.exceptions import ConnectionError as RedisConnectionError
from sqlalchemy import MetaData, func, select
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession

from common.audit import Actor, AuditEvent, AuditRecorder, OutboxMixin, OutboxRelay, RelayMetrics
from common.db import Base, new_metadata
from common.testing import RedisServer

TableMaker = Callable[[MetaData], Awaitable[None]]


class RelayBase(Base):
    __abstract__ = True
    metadata = new_metadata("common_test")


class Outbox(OutboxMixin, RelayBase):
    __tablename__ = "relay_outbox"


recorder = AuditRecorder("relay-test", Outbox)


@pytest.fixture
async def tables(engine: AsyncEngine, create_tables: TableMaker, empty_tables: None) -> None:
    await create_tables(RelayBase.metadata)


async def record(engine: AsyncEngine, count: int) -> list[AuditEvent]:
    async with AsyncSession(engine) as session:
        events = [
            recorder.record(
                session,
                action="relay.item.made",
                actor=Actor(type="system"),
                metadata={"n": n},
            )
            for n in range(count)
        ]
        await session.commit()
    return events


async def streamed(redis: Redis, stream: str) -> list[AuditEvent]:
    entries = await redis.xrange(stream) or []
    return [AuditEvent.from_json(str(fields["event"])) for _, fields in entries if fields]


async def backlog(engine: AsyncEngine) -> int:
    async with AsyncSession(engine) as session:
        return int(await session.scalar(select(func.count()).select_from(Outbox)) or 0)


def make_relay(engine: AsyncEngine, redis: Redis, stream: str, **options: object) -> OutboxRelay:
    values: dict[str, object] = {
        "engine": engine,
        "outbox": Outbox,
        "redis": redis,
        "stream": stream,
        "maxlen": 100_000,
        "batch_size": 50,
        "idle_interval": 0.01,
        "max_backoff": 0.2,
    }
    values.update(options)
    return OutboxRelay(**values)  # type: ignore[arg-type]


@pytest.mark.usefixtures("tables")
class TestRelayOnce:
    async def test_moves_a_batch_in_order_and_deletes_it(
        self, engine: AsyncEngine, redis: Redis, redis_prefix: str
    ) -> None:
        stream = f"{redis_prefix}audit.events"
        events = await record(engine, 120)
        relay = make_relay(engine, redis, stream)

        assert await relay.relay_once() == 50
        assert await backlog(engine) == 70
        assert [e.id for e in await streamed(redis, stream)] == [e.id for e in events[:50]]

    async def test_an_empty_outbox_publishes_nothing(
        self, engine: AsyncEngine, redis: Redis, redis_prefix: str
    ) -> None:
        relay = make_relay(engine, redis, f"{redis_prefix}audit.events")

        assert await relay.relay_once() == 0

    async def test_rows_stay_when_redis_refuses_them(
        self, engine: AsyncEngine, redis_prefix: str
    ) -> None:
        await record(engine, 5)
        down = Redis.from_url(
            "redis://127.0.0.1:1/0", socket_connect_timeout=0.2, decode_responses=True
        )
        try:
            with pytest.raises(RedisConnectionError):
                await make_relay(engine, down, f"{redis_prefix}audit.events").relay_once()
        finally:
            await down.aclose()

        assert await backlog(engine) == 5

    async def test_the_stream_is_bounded_approximately(
        self, engine: AsyncEngine, redis: Redis, redis_prefix: str
    ) -> None:
        stream = f"{redis_prefix}audit.events"
        await record(engine, 400)
        relay = make_relay(engine, redis, stream, maxlen=100, batch_size=400)

        await relay.relay_once()

        # MAXLEN ~ trims whole macro nodes only: near the bound, never far above it.
        assert 100 <= await redis.xlen(stream) < 400

    async def test_a_retention_trims_entries_older_than_it(
        self, engine: AsyncEngine, redis: Redis, redis_prefix: str
    ) -> None:
        stream = f"{redis_prefix}revocations"
        # Entries from an hour ago, then the relay's batch with a ten-minute retention.
        old_ms = int((time.time() - 3600) * 1000)
        for n in range(300):
            await redis.xadd(stream, {"x": "old"}, id=f"{old_ms}-{n}")
        await record(engine, 5)
        relay = make_relay(
            engine, redis, stream, retention_seconds=600, field="revocation", batch_size=5
        )

        await relay.relay_once()

        entries = await redis.xrange(stream) or []
        new = [fields for _, fields in entries if fields and "revocation" in fields]
        # MINID ~ trims whole macro nodes: most of the old entries are gone, none of the new.
        assert len(new) == 5
        assert len(entries) < 300


@pytest.mark.usefixtures("tables")
class TestRun:
    async def test_wake_publishes_without_waiting_for_the_idle_interval(
        self, engine: AsyncEngine, redis: Redis, redis_prefix: str
    ) -> None:
        stream = f"{redis_prefix}audit.events"
        relay = make_relay(engine, redis, stream, idle_interval=30)
        task = asyncio.create_task(relay.run())
        try:
            await asyncio.sleep(0.2)  # the relay found nothing and is idle for 30 s
            [event] = await record(engine, 1)
            relay.wake()
            arrived = await redis.xread({stream: "0-0"}, block=2000)  # waits for the entry
            assert arrived
            assert [e.id for e in await streamed(redis, stream)] == [event.id]
        finally:
            relay.stop()
            await task

    async def test_two_relays_share_the_work_without_duplicates(
        self, engine: AsyncEngine, redis: Redis, redis_prefix: str
    ) -> None:
        stream = f"{redis_prefix}audit.events"
        events = await record(engine, 1000)
        relays = [make_relay(engine, redis, stream, batch_size=25) for _ in range(2)]
        tasks = [asyncio.create_task(r.run()) for r in relays]
        try:
            await wait_until(lambda: backlog(engine), 0)
        finally:
            for relay in relays:
                relay.stop()
            await asyncio.gather(*tasks)

        published = [e.id for e in await streamed(redis, stream)]
        assert sorted(published) == sorted(e.id for e in events)
        assert len(set(published)) == len(published)

    async def test_an_outage_delays_events_and_loses_none(self, engine: AsyncEngine) -> None:
        with RedisServer() as server:
            client = Redis.from_url(server.url, decode_responses=True, socket_connect_timeout=0.5)
            registry = CollectorRegistry()
            relay = make_relay(
                engine, client, "audit.events", metrics=RelayMetrics(registry), max_backoff=0.1
            )
            task = asyncio.create_task(relay.run())
            try:
                first = await record(engine, 10)
                await wait_until(lambda: backlog(engine), 0)
                server.stop()
                during = await record(engine, 10)
                await wait_until(lambda: errors(registry), 1, at_least=True)
                assert await backlog(engine) == 10
                server.start()
                await wait_until(lambda: backlog(engine), 0)
                published = [e.id for e in await streamed(client, "audit.events")]
            finally:
                relay.stop()
                with contextlib.suppress(Exception):
                    await task
                await client.aclose()

        assert published == [e.id for e in during]  # the stream restarted empty
        assert first[0].id not in published
        assert registry.get_sample_value("audit_events_published_total") == 20

    async def test_metrics_report_backlog_and_age(
        self, engine: AsyncEngine, redis: Redis, redis_prefix: str
    ) -> None:
        registry = CollectorRegistry()
        relay = make_relay(
            engine, redis, f"{redis_prefix}audit.events", metrics=RelayMetrics(registry)
        )
        await record(engine, 3)

        await relay.update_metrics()

        assert registry.get_sample_value("audit_outbox_backlog") == 3
        age = registry.get_sample_value("audit_outbox_oldest_age_seconds")
        assert age is not None
        assert 0 <= age < 60

    async def test_the_backlog_shows_while_redis_refuses(
        self, engine: AsyncEngine, redis_prefix: str
    ) -> None:
        """The gauges were set only after a pass that succeeded: an outage read as an empty
        outbox."""
        registry = CollectorRegistry()
        down = Redis.from_url(
            "redis://127.0.0.1:1/0", socket_connect_timeout=0.2, decode_responses=True
        )
        relay = make_relay(
            engine,
            down,
            f"{redis_prefix}audit.events",
            metrics=RelayMetrics(registry, prefix="revocation"),
        )
        await record(engine, 4)
        task = asyncio.create_task(relay.run())
        try:

            async def backlog_gauge() -> int:
                return int(registry.get_sample_value("revocation_outbox_backlog") or 0)

            await wait_until(backlog_gauge, 4)
            assert (registry.get_sample_value("revocation_relay_errors_total") or 0) >= 1
        finally:
            relay.stop()
            await task
            await down.aclose()


async def errors(registry: CollectorRegistry) -> int:
    return int(registry.get_sample_value("audit_relay_errors_total") or 0)


async def wait_until(
    probe: Callable[[], Awaitable[int]], expected: int, *, at_least: bool = False
) -> None:
    for _ in range(500):
        value = await probe()
        if value == expected or (at_least and value >= expected):
            return
        await asyncio.sleep(0.02)
    raise AssertionError(f"waited for {expected}, last saw {value}")
