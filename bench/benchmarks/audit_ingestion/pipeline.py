"""The audit pipeline, driven and checked from the benchmark process:

    producer (here) --INSERT--> auth.audit_outbox --relay (auth server)--XADD-->
    <prefix>audit.events --XREADGROUP (consumer process)--> activity.event
    --GET /activity (activity API)--> poller (here)

Events are built by the auth service's own `AuditRecorder` before a phase (so the producer
spends its CPU on inserting, not on pydantic); `Pipeline.commit` writes a batch in one
transaction as a service does; `Pipeline.finish` checks every produced event was stored exactly
once, nothing is left in the outbox or the stream, and the API verifies the chain."""

from __future__ import annotations

import asyncio
import json
import time
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final

import httpx
from redis.asyncio import Redis

from activity_service.models import SCHEMA as ACTIVITY_SCHEMA
from activity_service.models import Event
from auth_service.audit import Action, recorder, user_resource
from auth_service.models import SCHEMA as AUTH_SCHEMA
from auth_service.models import AuditOutbox
from bench import cpu
from bench.benchmarks.audit_ingestion.probes import HeadSampler
from bench.report import Grid, Verdict
from common.audit import Actor
from common.context import request_id_var

VERIFY_PATH: Final = "/api/v1/activity/verify"
SAMPLE_INTERVAL: Final = 0.05
SETTLE_TIMEOUT: Final = 60.0
# Names from the models, so a renamed table cannot drift from these statements.
OUTBOX_TABLE: Final = f"{AUTH_SCHEMA}.{AuditOutbox.__tablename__}"
EVENT_TABLE: Final = f"{ACTIVITY_SCHEMA}.{Event.__tablename__}"
_INSERT: Final = (
    f"INSERT INTO {OUTBOX_TABLE} (event_id, payload) "  # noqa: S608 (constants)
    "SELECT * FROM unnest($1::uuid[], $2::text[])"
)
HEAD: Final = f"SELECT coalesce(max(seq), 0) FROM {EVENT_TABLE}"  # noqa: S608
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
class TableStats:
    """Sequential scans of the event table (each one reads the whole chain: a batch that
    scans it costs more the longer the chain is) and dead rows left in the outbox (the relay
    deletes every row it publishes; only VACUUM reclaims them)."""

    event_seq_scans: int
    event_rows_scanned: int
    outbox_dead_rows: int


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

    def row(self, phase: str) -> list[str]:
        counts = [self.produced, self.stored, self.distinct, self.lost, self.duplicated]
        counts += [self.unexpected, self.stream_entries, self.skipped_redeliveries]
        counts += [self.outbox_left, self.unconsumed]
        return [phase, *(f"{n:,}" for n in counts), self.verify_detail]


@dataclass(frozen=True, slots=True)
class Outcome:
    """What a phase adds to the report, and what it left behind."""

    grid: Grid
    verdict: Verdict
    notes: list[str]
    integrity: Integrity
    stats: TableStats


@dataclass(frozen=True, slots=True)
class Start:
    """Where a phase began: the chain's head, the stream's length, the consumer's skipped
    redeliveries so far and the tables' counters."""

    base: int
    entries: int
    skipped: int
    stats: TableStats


@dataclass(frozen=True, slots=True)
class Pipeline:
    """Connections to the pipeline's stores (asyncpg: the producer's, the sampler's, one for
    checks; Redis for the stream; the activity API as an administrator) and the processes
    whose CPU is accounted, by name."""

    producer: Any
    sampler: Any
    checks: Any
    redis: Redis
    api: httpx.AsyncClient
    stream: str
    group: str
    consumer_log: Path
    cpu_groups: Mapping[str, Sequence[int]]
    database: str

    async def commit(self, events: Sequence[OutboxEvent]) -> Commit:
        """One transaction writing `events` to the outbox, as a service's request does."""
        async with self.producer.transaction():
            await self.producer.execute(
                _INSERT, [e.event_id for e in events], [e.payload for e in events]
            )
        return Commit(time.perf_counter(), tuple(e.event_id for e in events))

    async def head(self) -> int:
        return int(await self.checks.fetchval(HEAD))

    async def outbox_rows(self) -> int:
        return int(await self.checks.fetchval(_OUTBOX_ROWS))

    async def table_stats(self) -> TableStats:
        rows = {
            r["name"]: r for r in await self.checks.fetch(_TABLE_STATS, [EVENT_TABLE, OUTBOX_TABLE])
        }
        event, outbox = rows.get(EVENT_TABLE), rows.get(OUTBOX_TABLE)
        return TableStats(
            event_seq_scans=int(event["seq_scan"]) if event else 0,
            event_rows_scanned=int(event["seq_tup_read"]) if event else 0,
            outbox_dead_rows=int(outbox["n_dead_tup"]) if outbox else 0,
        )

    async def group_state(self) -> tuple[int, int, int]:
        """The stream's length, and of the consumer group: entries not read yet (lag) and read
        but not acknowledged (pending)."""
        entries = int(await self.redis.xlen(self.stream))
        for group in await self.redis.xinfo_groups(self.stream):
            if group["name"] == self.group:
                return entries, int(group.get("lag") or 0), int(group["pending"])
        return entries, entries, 0

    async def settle(self, *, expected_head: int | None) -> None:
        """Wait until the outbox is empty, the group has read and acknowledged every entry
        and (when given) the chain reached `expected_head`, or `SETTLE_TIMEOUT` passed."""
        deadline = time.monotonic() + SETTLE_TIMEOUT
        while time.monotonic() < deadline:
            _, lag, pending = await self.group_state()
            head_ok = expected_head is None or await self.head() >= expected_head
            if head_ok and lag == 0 and pending == 0 and not await self.outbox_rows():
                # Nothing in flight anywhere; a relay pass that read rows before we looked
                # would have left them in the outbox (it deletes them in the same transaction).
                return
            await asyncio.sleep(0.05)

    def skipped_redeliveries(self) -> int:
        """Events the consumer skipped as already stored, from its log lines."""
        skipped = 0
        try:
            lines = self.consumer_log.read_text(errors="replace").splitlines()
        except OSError:
            return 0
        for line in lines:
            if _SKIPPED_MESSAGE in line:
                try:
                    skipped += int(str(json.loads(line)["message"]).split()[1])
                except (ValueError, KeyError, IndexError):
                    continue
        return skipped

    def cpu_snapshot(self) -> cpu.Snapshot:
        return cpu.snapshot(self.cpu_groups, self.database)

    async def cpu_between(self, start: float, end: float) -> dict[str, float]:
        """Cores used from `start` to `end` (`time.perf_counter()` instants to come)."""
        await asyncio.sleep(max(0.0, start - time.perf_counter()))
        before = self.cpu_snapshot()
        await asyncio.sleep(max(0.0, end - time.perf_counter()))
        return cpu.usage(before, self.cpu_snapshot())

    async def begin(self) -> tuple[Start, HeadSampler]:
        """A phase's starting point, and a sampler of its own (sampled once already)."""
        entries, _, _ = await self.group_state()
        start = Start(
            await self.head(), entries, self.skipped_redeliveries(), await self.table_stats()
        )
        sampler = HeadSampler(self.sampler, HEAD, SAMPLE_INTERVAL)
        await sampler.sample()
        return start, sampler

    async def finish(
        self, start: Start, produced: Sequence[uuid.UUID]
    ) -> tuple[Integrity, TableStats]:
        """Once the pipeline settled: the integrity checks, and the tables' counters over the
        phase (read before the checks, whose own reads of the table would count)."""
        await self.settle(expected_head=start.base + len(produced))
        stats = await self.table_stats()
        rows = await self.checks.fetch(_STORED_IDS, start.base)
        stored = [uuid.UUID(str(row["event_id"])) for row in rows]
        stored_set, produced_set = set(stored), set(produced)
        entries, lag, pending = await self.group_state()
        response = await self.api.get(
            VERIFY_PATH, params={"from_seq": start.base + 1}, timeout=120.0
        )
        response.raise_for_status()
        body = response.json()
        ok = body.get("ok") is True
        detail = (
            f"ok, {body['checked']:,} links from seq {start.base + 1:,}"
            if ok
            else f"broken at seq {body.get('first_broken_seq')}: {body.get('reason')}"
        )
        integrity = Integrity(
            produced=len(produced),
            stored=len(stored),
            distinct=len(stored_set),
            lost=len(produced_set - stored_set),
            unexpected=len(stored_set - produced_set),
            stream_entries=entries - start.entries,
            skipped_redeliveries=self.skipped_redeliveries() - start.skipped,
            outbox_left=await self.outbox_rows(),
            unconsumed=lag + pending,
            verify_ok=ok,
            verify_detail=detail,
        )
        since = TableStats(
            event_seq_scans=stats.event_seq_scans - start.stats.event_seq_scans,
            event_rows_scanned=stats.event_rows_scanned - start.stats.event_rows_scanned,
            outbox_dead_rows=stats.outbox_dead_rows,
        )
        return integrity, since
