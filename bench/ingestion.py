"""The audit pipeline, driven and observed from the benchmark process (`audit-ingestion`).

    producer (here) --INSERT--> auth.audit_outbox --relay (auth server)--XADD-->
    <prefix>audit.events --XREADGROUP (consumer process)--> activity.event
    --GET /activity (activity API)--> poller (here)

- `build_events`: login events made by the auth service's own `AuditRecorder` (validated,
  secrets scrubbed, serialised exactly as the relay publishes them), built before a phase so
  that the producer spends its CPU on inserting, not on pydantic, while the pipeline is measured.
- `Pipeline.commit`: one multi-row INSERT into the outbox in its own transaction, as a service
  writes its events; returns the instant the COMMIT was acknowledged.
- `HeadSampler`: `max(seq)` of `activity.event` on its own connection every few tens of ms. `seq`
  is gapless (one per stored event, assigned under the chain lock), so it counts the rows that
  another connection can query at that instant, at the cost of one index probe.
- `ActivityPoller`: what a reader of `/activity` sees, and when.
- `Pipeline.integrity`: after a phase, every produced event stored exactly once, nothing left in
  the outbox or the stream, and the chain verified by the API.
"""

from __future__ import annotations

import asyncio
import bisect
import contextlib
import json
import time
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Final

import asyncpg
import httpx
from redis.asyncio import Redis
from redis.exceptions import RedisError

from activity_service.models import SCHEMA as ACTIVITY_SCHEMA
from activity_service.models import Event
from auth_service.audit import Action, recorder, user_resource
from auth_service.models import SCHEMA as AUTH_SCHEMA
from auth_service.models import AuditOutbox
from common.audit import Actor
from common.context import request_id_var

ACTIVITY_PATH: Final = "/api/v1/activity"
VERIFY_PATH: Final = "/api/v1/activity/verify"
PAGE_LIMIT: Final = 100  # the API's largest page
SAMPLE_INTERVAL: Final = 0.05
# Names from the models, so a renamed table cannot drift from these statements.
OUTBOX_TABLE: Final = f"{AUTH_SCHEMA}.{AuditOutbox.__tablename__}"
EVENT_TABLE: Final = f"{ACTIVITY_SCHEMA}.{Event.__tablename__}"
_INSERT: Final = (
    f"INSERT INTO {OUTBOX_TABLE} (event_id, payload) "  # noqa: S608 (constants)
    "SELECT * FROM unnest($1::uuid[], $2::text[])"
)
_HEAD: Final = f"SELECT coalesce(max(seq), 0) FROM {EVENT_TABLE}"  # noqa: S608
_OUTBOX_ROWS: Final = f"SELECT count(*) FROM {OUTBOX_TABLE}"  # noqa: S608
_STORED_IDS: Final = f"SELECT event_id FROM {EVENT_TABLE} WHERE seq > $1"  # noqa: S608
_SKIPPED_MESSAGE: Final = "event(s) already stored"
# Cumulative counters of the two tables (flushed by the backends about once a second).
_TABLE_STATS: Final = """
SELECT schemaname || '.' || relname AS name, seq_scan, seq_tup_read, n_dead_tup
FROM pg_stat_user_tables WHERE schemaname || '.' || relname = ANY($1::text[])
"""


@dataclass(frozen=True, slots=True)
class OutboxEvent:
    event_id: uuid.UUID
    payload: str


def build_events(count: int, *, users: int = 64) -> list[OutboxEvent]:
    """`count` successful-login events of `users` users, each with a request id and a session
    id, the shape `auth_service.services.login` records (about 480 bytes of JSON each)."""
    addresses = [f"203.0.113.{i % 250 + 1}" for i in range(8)]
    accounts = [uuid.uuid4() for _ in range(users)]
    events = []
    for index in range(count):
        account = accounts[index % users]
        token = request_id_var.set(uuid.uuid4().hex)
        try:
            event = recorder.event(
                action=Action.LOGIN,
                actor=Actor(
                    type="user",
                    id=str(account),
                    ip=addresses[index % len(addresses)],
                    user_agent="bench/1.0",
                ),
                resource=user_resource(account),
                metadata={"session_id": str(uuid.uuid4())},
            )
        finally:
            request_id_var.reset(token)
        events.append(OutboxEvent(event.id, event.to_json()))
    return events


@dataclass(frozen=True, slots=True)
class Commit:
    """A producer transaction: when its COMMIT was acknowledged (`time.perf_counter()`), and
    the events it wrote."""

    at: float
    event_ids: tuple[uuid.UUID, ...]


@dataclass(frozen=True, slots=True)
class GroupState:
    """The consumer group on the stream: entries not read yet, and read but not acknowledged."""

    entries: int
    lag: int
    pending: int


@dataclass(frozen=True, slots=True)
class TableStats:
    """Sequential scans of the event table (each one reads the whole chain: a batch that
    scans it costs more the longer the chain is) and dead rows left in the outbox (the relay
    deletes every row it publishes; only VACUUM reclaims them)."""

    event_seq_scans: int
    event_rows_scanned: int
    outbox_dead_rows: int

    def since(self, before: TableStats) -> TableStats:
        return TableStats(
            event_seq_scans=self.event_seq_scans - before.event_seq_scans,
            event_rows_scanned=self.event_rows_scanned - before.event_rows_scanned,
            outbox_dead_rows=self.outbox_dead_rows,
        )


@dataclass(frozen=True, slots=True)
class Integrity:
    """What a phase left behind, checked once the pipeline settled."""

    produced: int
    stored: int
    distinct: int
    lost: int
    unexpected: int
    stream_entries: int
    skipped_redeliveries: int
    outbox_left: int
    unconsumed: int
    verify_ok: bool
    verify_detail: str

    @property
    def duplicated(self) -> int:
        return self.stored - self.distinct


class HeadSampler:
    """`max(seq)` of the event table over time, on its own connection (see the module doc)."""

    def __init__(self, connection: Any, *, interval: float) -> None:
        self.connection = connection
        self.interval = interval
        self.times: list[float] = []
        self.heads: list[int] = []
        self._sampled = asyncio.Event()

    @property
    def head(self) -> int:
        return self.heads[-1] if self.heads else 0

    async def sample(self) -> int:
        head = int(await self.connection.fetchval(_HEAD))
        self.times.append(time.perf_counter())
        self.heads.append(head)
        self._sampled.set()
        return head

    async def reach(self, head: int, *, within: float) -> bool:
        """Wait (while `run` samples) until the head is at least `head`; False on timeout."""
        try:
            async with asyncio.timeout(within):
                while self.head < head:
                    self._sampled.clear()
                    await self._sampled.wait()
        except TimeoutError:
            return False
        return True

    async def run(self, stop: asyncio.Event) -> None:
        while not stop.is_set():
            started = time.perf_counter()
            await self.sample()
            delay = self.interval - (time.perf_counter() - started)
            if delay > 0:
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(stop.wait(), delay)

    def at(self, instant: float) -> float:
        """The head at `instant`, interpolated between the samples around it."""
        index = bisect.bisect_left(self.times, instant)
        if index == 0:
            return float(self.heads[0])
        if index >= len(self.times):
            return float(self.heads[-1])
        t0, t1 = self.times[index - 1], self.times[index]
        h0, h1 = self.heads[index - 1], self.heads[index]
        return h0 + (h1 - h0) * (instant - t0) / (t1 - t0) if t1 > t0 else float(h1)

    def first_reaching(self, head: int, *, after: float) -> float | None:
        """The first sample time after `after` at which the head was at least `head`."""
        start = bisect.bisect_left(self.times, after)
        for t, h in zip(self.times[start:], self.heads[start:], strict=True):
            if h >= head:
                return t
        return None


@dataclass(slots=True)
class ActivityPoller:
    """Polls `GET /activity?limit=100` (newest first) and records when each event id was
    first listed. When a page holds only rows newer than the last one seen, the rows below it
    are fetched through `next_cursor` until the walk meets a seen row: a burst larger than a
    page is not skipped. Those rows committed before the first page's query ran (the chain lock
    makes rows commit in `seq` order), so all of them are stamped with the first page's arrival
    time: an upper bound of when they became visible, at most one interval plus one answer late.
    """

    client: httpx.AsyncClient
    after_seq: int
    interval: float
    first_seen: dict[uuid.UUID, float] = field(default_factory=dict)
    answer_ms: list[float] = field(default_factory=list)
    polls: int = 0
    extra_pages: int = 0
    errors: int = 0
    _polled: asyncio.Event = field(default_factory=asyncio.Event)

    async def _page(self, cursor: str | None) -> tuple[list[dict[str, Any]], str | None, float]:
        params: dict[str, str | int] = {"limit": PAGE_LIMIT}
        if cursor is not None:
            params["cursor"] = cursor
        sent = time.perf_counter()
        response = await self.client.get(ACTIVITY_PATH, params=params)
        arrived = time.perf_counter()
        response.raise_for_status()
        self.answer_ms.append((arrived - sent) * 1000.0)
        body = response.json()
        return body["items"], body["next_cursor"], arrived

    async def poll_once(self) -> None:
        items, cursor, arrived = await self._page(None)
        self.polls += 1
        found = list(items)
        while found and int(found[-1]["seq"]) > self.after_seq + 1 and cursor is not None:
            items, cursor, _ = await self._page(cursor)
            self.extra_pages += 1
            found += items
        for item in found:
            if int(item["seq"]) > self.after_seq:
                self.first_seen.setdefault(uuid.UUID(item["id"]), arrived)
        if found:
            self.after_seq = max(self.after_seq, int(found[0]["seq"]))

    async def run(self, stop: asyncio.Event) -> None:
        next_poll = time.perf_counter()
        while not stop.is_set():
            try:
                await self.poll_once()
            except (httpx.HTTPError, KeyError, ValueError):
                self.errors += 1
            self._polled.set()
            next_poll = max(next_poll + self.interval, time.perf_counter())
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), max(0.0, next_poll - time.perf_counter()))

    async def see(self, event_ids: Sequence[uuid.UUID], *, within: float) -> bool:
        """Wait (while `run` polls) until every one of `event_ids` was listed; False on
        timeout."""
        missing = [event_id for event_id in event_ids if event_id not in self.first_seen]
        try:
            async with asyncio.timeout(within):
                while missing:
                    self._polled.clear()
                    await self._polled.wait()
                    missing = [event_id for event_id in missing if event_id not in self.first_seen]
        except TimeoutError:
            return False
        return True


class Pipeline:
    """Connections to the pipeline's stores: the producer's and the sampler's (asyncpg), one
    for checks, Redis for the stream, and the activity API as an administrator."""

    def __init__(
        self,
        *,
        producer: Any,
        sampler: Any,
        checks: Any,
        redis: Redis,
        api: httpx.AsyncClient,
        stream: str,
        group: str,
        consumer_log: Path,
    ) -> None:
        self.producer = producer
        self.checks = checks
        self.redis = redis
        self.api = api
        self.stream = stream
        self.group = group
        self.consumer_log = consumer_log
        self.sampler_connection = sampler

    def new_sampler(self) -> HeadSampler:
        """A sampler of its own for each phase, on the connection kept for sampling."""
        return HeadSampler(self.sampler_connection, interval=SAMPLE_INTERVAL)

    async def commit(self, events: Sequence[OutboxEvent]) -> Commit:
        """One transaction writing `events` to the outbox, as a service's request does."""
        async with self.producer.transaction():
            await self.producer.execute(
                _INSERT, [e.event_id for e in events], [e.payload for e in events]
            )
        return Commit(time.perf_counter(), tuple(e.event_id for e in events))

    async def head(self) -> int:
        return int(await self.checks.fetchval(_HEAD))

    async def outbox_rows(self) -> int:
        return int(await self.checks.fetchval(_OUTBOX_ROWS))

    async def table_stats(self) -> TableStats:
        rows = {
            row["name"]: row
            for row in await self.checks.fetch(_TABLE_STATS, [EVENT_TABLE, OUTBOX_TABLE])
        }
        event, outbox = rows.get(EVENT_TABLE), rows.get(OUTBOX_TABLE)
        return TableStats(
            event_seq_scans=int(event["seq_scan"]) if event else 0,
            event_rows_scanned=int(event["seq_tup_read"]) if event else 0,
            outbox_dead_rows=int(outbox["n_dead_tup"]) if outbox else 0,
        )

    async def group_state(self) -> GroupState:
        entries = int(await self.redis.xlen(self.stream))
        for group in await self.redis.xinfo_groups(self.stream):
            if group["name"] == self.group:
                return GroupState(entries, int(group.get("lag") or 0), int(group["pending"]))
        return GroupState(entries, entries, 0)

    async def settle(self, *, expected_head: int | None, within: float) -> bool:
        """Wait until the outbox is empty, the group has read and acknowledged every entry
        and (when given) the chain reached `expected_head`; False on timeout."""
        deadline = time.monotonic() + within
        while time.monotonic() < deadline:
            state = await self.group_state()
            head_ok = expected_head is None or await self.head() >= expected_head
            if head_ok and state.lag == 0 and state.pending == 0 and not await self.outbox_rows():
                # Nothing in flight anywhere; a relay pass that read rows before we looked
                # would have left them in the outbox (it deletes them in the same transaction).
                return True
            await asyncio.sleep(0.05)
        return False

    def skipped_redeliveries(self) -> int:
        """Events the consumer skipped as already stored, from its log lines."""
        skipped = 0
        try:
            lines = self.consumer_log.read_text(errors="replace").splitlines()
        except OSError:
            return 0
        for line in lines:
            if _SKIPPED_MESSAGE not in line:
                continue
            try:
                message = str(json.loads(line)["message"])
                skipped += int(message.split()[1])
            except (ValueError, KeyError, IndexError):
                continue
        return skipped

    async def verify(self, from_seq: int) -> tuple[bool, str]:
        response = await self.api.get(VERIFY_PATH, params={"from_seq": from_seq}, timeout=120.0)
        response.raise_for_status()
        body = response.json()
        if body.get("ok") is True:
            return True, f"ok, {body['checked']:,} links from seq {from_seq:,}"
        return False, f"broken at seq {body.get('first_broken_seq')}: {body.get('reason')}"

    async def integrity(
        self,
        produced: Sequence[uuid.UUID],
        *,
        after_seq: int,
        entries_before: int,
        skipped_before: int,
    ) -> Integrity:
        rows = await self.checks.fetch(_STORED_IDS, after_seq)
        stored = [uuid.UUID(str(row["event_id"])) for row in rows]
        stored_set, produced_set = set(stored), set(produced)
        state = await self.group_state()
        ok, detail = await self.verify(after_seq + 1)
        return Integrity(
            produced=len(produced),
            stored=len(stored),
            distinct=len(stored_set),
            lost=len(produced_set - stored_set),
            unexpected=len(stored_set - produced_set),
            stream_entries=state.entries - entries_before,
            skipped_redeliveries=self.skipped_redeliveries() - skipped_before,
            outbox_left=await self.outbox_rows(),
            unconsumed=state.lag + state.pending,
            verify_ok=ok,
            verify_detail=detail,
        )


async def group_exists(redis: Redis, stream: str, group: str) -> bool:
    """The consumer created its group on the stream: it is up and reading."""
    try:
        groups = await redis.xinfo_groups(stream)
    except RedisError:  # no stream yet
        return False
    return any(g["name"] == group for g in groups)


async def connect(database_url: str) -> Any:
    """An asyncpg connection to the benchmark's database (`database_url` in SQLAlchemy form)."""
    dsn = database_url.replace("postgresql+asyncpg://", "postgresql://", 1)
    return await asyncpg.connect(dsn, server_settings={"application_name": "bench"})
