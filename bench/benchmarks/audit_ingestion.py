"""5. Audit ingestion: events from a service's outbox to a row anyone can query, with one relay
and one consumer. Targets: at least 5,000 events/s sustained; at 1,000 events/s, p99 from the
producer's COMMIT to the event being listed by `GET /activity` under 1 s; nothing lost, nothing
stored twice.

Everything runs as in production: the relay inside the auth server (its lifespan task, default
batch and idle interval), the consumer as `python -m activity_service.consumer`, the activity
API as a uvicorn server verifying tokens against the auth server's JWKS. This process is the
producer (the way a service writes its outbox) and the observer.

A. Sustained: the producer offers 8,000 events/s, well above the target, but holds back while
   10,000 events are in flight, so the relay and the consumer never wait for work while the
   backlog (and the drain at the end) stays bounded. The rate is that of rows becoming
   queryable in `activity.event`, over consecutive windows after a warm-up.
B. Latency: 1,000 events/s in transactions of 10 every 10 ms; a poller lists the newest events
   through the API every 20 ms and records when each id first appears.

After each phase: stored rows and distinct ids equal what was produced, nothing is left in the
outbox or unacknowledged in the stream, and `/activity/verify` accepts the chain.
"""

from __future__ import annotations

import asyncio
import math
import time
import uuid
from collections.abc import Mapping, Sequence
from contextlib import AsyncExitStack
from dataclasses import dataclass

import httpx
from redis.asyncio import Redis

from activity_service.settings import ActivitySettings
from bench import cpu
from bench.accounts import AUTH_FACTORY, admin_token
from bench.environment import bench_environment
from bench.ingestion import (
    ACTIVITY_PATH,
    PAGE_LIMIT,
    SAMPLE_INTERVAL,
    ActivityPoller,
    Commit,
    HeadSampler,
    Integrity,
    OutboxEvent,
    Pipeline,
    TableStats,
    build_events,
    connect,
    group_exists,
)
from bench.report import Grid, Report, fmt_cpu, fmt_ms, fmt_rps, spread
from bench.runner import Options
from bench.servers import run_server, run_worker
from bench.stats import percentile
from bench.verdicts import all_zero, latency_below, value_at_least
from common.redis import KeySpace

KEY = "audit-ingestion"
TITLE = (
    "5. Audit ingestion: outbox -> relay -> stream -> consumer -> queryable, 1 relay, 1 consumer"
)

ACTIVITY_FACTORY = "activity_service.main:create_app"
CONSUMER_MODULE = "activity_service.consumer"

TARGET_RATE = 5_000.0
OFFERED_RATE = 8_000.0
SUSTAINED_BATCH = 100
IN_FLIGHT_CAP = 10_000
SUSTAINED_WARMUP = 3.0

LATENCY_RATE = 1_000.0
LATENCY_BATCH = 10
LATENCY_WARMUP = 1.0
POLL_INTERVAL = 0.02
P99_TARGET_MS = 1_000.0

SETTLE_TIMEOUT = 60.0
SEEN_TIMEOUT = 30.0

# CPU columns: this process, the named processes, the benchmark database's backends, the rest.
CPU_ORDER = ("self", "relay", "consumer", "api", "db", "db-bg", "redis", "other", "steal")
CPU_HEADER = (
    "CPU cores: bench / relay (auth) / consumer / activity API / db / db background / redis / "
    "other / hypervisor steal"
)


def _fmt_usage(usage: Mapping[str, float]) -> str:
    return " / ".join(fmt_cpu(usage.get(name, math.nan)) for name in CPU_ORDER)


def _setting(options: Options, name: str) -> str:
    """The value a setting of the consumer/relay has in this run: `--server-env` or the
    default of the settings classes (ActivitySettings extends the shared ServiceSettings)."""
    override = options.server_env.get(name.upper())
    return override if override is not None else str(ActivitySettings.model_fields[name].default)


@dataclass(slots=True)
class Phase:
    """A phase's starting point and the probes that watch it."""

    pipeline: Pipeline
    groups: Mapping[str, Sequence[int]]
    database: str
    base: int = 0
    entries_before: int = 0
    skipped_before: int = 0
    stats_before: TableStats | None = None

    async def begin(self) -> HeadSampler:
        self.base = await self.pipeline.head()
        self.entries_before = (await self.pipeline.group_state()).entries
        self.skipped_before = self.pipeline.skipped_redeliveries()
        self.stats_before = await self.pipeline.table_stats()
        sampler = self.pipeline.new_sampler()
        await sampler.sample()
        return sampler

    def snapshot(self) -> cpu.GroupSnapshot:
        return cpu.group_snapshot(self.groups, self.database)

    async def cpu_between(self, start: float, end: float) -> dict[str, float]:
        await asyncio.sleep(max(0.0, start - time.perf_counter()))
        before = self.snapshot()
        await asyncio.sleep(max(0.0, end - time.perf_counter()))
        return cpu.group_usage(before, self.snapshot())

    async def finish(self, produced: Sequence[uuid.UUID]) -> tuple[Integrity, TableStats]:
        await self.pipeline.settle(expected_head=self.base + len(produced), within=SETTLE_TIMEOUT)
        # Before the checks, whose own reads of the table would count.
        stats = await self.pipeline.table_stats()
        integrity = await self.pipeline.integrity(
            produced,
            after_seq=self.base,
            entries_before=self.entries_before,
            skipped_before=self.skipped_before,
        )
        return integrity, stats if self.stats_before is None else stats.since(self.stats_before)


def _windows(start: float, options: Options) -> list[tuple[float, float]]:
    return [
        (start + i * options.duration, start + (i + 1) * options.duration)
        for i in range(options.rounds)
    ]


def _committed_between(commits: Sequence[Commit], start: float, end: float) -> int:
    return sum(len(c.event_ids) for c in commits if start < c.at <= end)


@dataclass(frozen=True, slots=True)
class Sustained:
    rates: list[float]
    offered: list[float]
    stored: int
    committed: int
    min_in_flight: int
    drain_events: int
    drain_seconds: float
    cpu: dict[str, float]
    drain_cpu: dict[str, float]
    integrity: Integrity
    stats: TableStats
    ran_out: bool

    @property
    def rate(self) -> float:
        return sum(self.rates) / len(self.rates)

    @property
    def offered_rate(self) -> float:
        return sum(self.offered) / len(self.offered)


async def _offer(
    pipeline: Pipeline,
    sampler: HeadSampler,
    events: Sequence[OutboxEvent],
    *,
    base: int,
    end: float,
) -> tuple[list[Commit], bool]:
    """Phase A's producer: `SUSTAINED_BATCH` events per transaction, paced at `OFFERED_RATE`
    (a late transaction does not make the next ones burst), skipping a turn while
    `IN_FLIGHT_CAP` events are committed but not yet queryable. Returns the commits and whether
    the prebuilt events ran out before `end`."""
    interval = SUSTAINED_BATCH / OFFERED_RATE
    commits: list[Commit] = []
    position = produced = 0
    next_send = time.perf_counter()
    while time.perf_counter() < end:
        if position >= len(events):
            return commits, True
        delay = next_send - time.perf_counter()
        if delay > 0:
            await asyncio.sleep(delay)
        next_send = max(next_send + interval, time.perf_counter())
        if produced - (sampler.head - base) >= IN_FLIGHT_CAP:
            continue
        batch = events[position : position + SUSTAINED_BATCH]
        commits.append(await pipeline.commit(batch))
        position += len(batch)
        produced += len(batch)
    return commits, False


def _min_in_flight(
    sampler: HeadSampler, commits: Sequence[Commit], base: int, start: float, end: float
) -> int:
    """The fewest events committed but not yet queryable at any sample inside the window: when
    it stays well above the relay's and consumer's batch sizes, neither ever waited for work."""
    lowest: int | None = None
    for t, head in zip(sampler.times, sampler.heads, strict=True):
        if start <= t <= end:
            committed = sum(len(c.event_ids) for c in commits if c.at <= t)
            in_flight = committed - (head - base)
            lowest = in_flight if lowest is None else min(lowest, in_flight)
    return lowest if lowest is not None else 0


async def _sustained(phase: Phase, events: Sequence[OutboxEvent], options: Options) -> Sustained:
    pipeline = phase.pipeline
    sampler = await phase.begin()
    stop = asyncio.Event()
    sampling = asyncio.create_task(sampler.run(stop))
    start = time.perf_counter() + SUSTAINED_WARMUP
    windows = _windows(start, options)
    end = windows[-1][1]
    measuring = asyncio.create_task(phase.cpu_between(start, end))
    try:
        commits, ran_out = await _offer(pipeline, sampler, events, base=phase.base, end=end)
        usage = await measuring
        produced = [event_id for c in commits for event_id in c.event_ids]
        # The drain: the backlog left when the producer stopped, with the pipeline alone.
        stopped = time.perf_counter()
        drain_before = phase.snapshot()
        await sampler.reach(phase.base + len(produced), within=SETTLE_TIMEOUT)
        drained = time.perf_counter()
        drain_usage = cpu.group_usage(drain_before, phase.snapshot())
    finally:
        stop.set()
        await sampling
        measuring.cancel()
    done_at = sampler.first_reaching(phase.base + len(produced), after=stopped) or drained
    backlog = len(produced) - round(sampler.at(stopped) - phase.base)
    integrity, stats = await phase.finish(produced)
    return Sustained(
        rates=[(sampler.at(b) - sampler.at(a)) / (b - a) for a, b in windows],
        offered=[_committed_between(commits, a, b) / (b - a) for a, b in windows],
        stored=round(sampler.at(end) - sampler.at(start)),
        committed=_committed_between(commits, start, end),
        min_in_flight=_min_in_flight(sampler, commits, phase.base, start, end),
        drain_events=backlog,
        drain_seconds=done_at - stopped,
        cpu=usage,
        drain_cpu=drain_usage,
        integrity=integrity,
        stats=stats,
        ran_out=ran_out,
    )


@dataclass(frozen=True, slots=True)
class Latency:
    latencies_ms: list[list[float]]  # per window
    unseen: int
    rate: float
    cpu: dict[str, float]
    poller: ActivityPoller
    poll_seconds: float
    integrity: Integrity
    stats: TableStats

    @property
    def pooled(self) -> list[float]:
        return [ms for window in self.latencies_ms for ms in window]


async def _pace(pipeline: Pipeline, events: Sequence[OutboxEvent]) -> list[Commit]:
    """Phase B's producer: `LATENCY_BATCH` events per transaction at `LATENCY_RATE`, until
    the prebuilt events are all written."""
    interval = LATENCY_BATCH / LATENCY_RATE
    commits = []
    next_send = time.perf_counter()
    for position in range(0, len(events), LATENCY_BATCH):
        delay = next_send - time.perf_counter()
        if delay > 0:
            await asyncio.sleep(delay)
        next_send = max(next_send + interval, time.perf_counter())
        commits.append(await pipeline.commit(events[position : position + LATENCY_BATCH]))
    return commits


async def _latency(phase: Phase, events: Sequence[OutboxEvent], options: Options) -> Latency:
    pipeline = phase.pipeline
    sampler = await phase.begin()
    poller = ActivityPoller(pipeline.api, after_seq=phase.base, interval=POLL_INTERVAL)
    stop_sampling, stop_polling = asyncio.Event(), asyncio.Event()
    sampling = asyncio.create_task(sampler.run(stop_sampling))
    polling = asyncio.create_task(poller.run(stop_polling))
    polling_since = time.perf_counter()
    start = time.perf_counter() + LATENCY_WARMUP
    windows = _windows(start, options)
    measuring = asyncio.create_task(phase.cpu_between(start, windows[-1][1]))
    try:
        commits = await _pace(pipeline, events)
        usage = await measuring
        produced = [event_id for c in commits for event_id in c.event_ids]
        await poller.see(produced, within=SEEN_TIMEOUT)
    finally:
        stop_polling.set()
        await polling
        stop_sampling.set()
        await sampling
        measuring.cancel()
    poll_seconds = time.perf_counter() - polling_since
    latencies: list[list[float]] = [[] for _ in windows]
    unseen = 0
    for commit in commits:
        index = next((i for i, (a, b) in enumerate(windows) if a < commit.at <= b), None)
        if index is None:
            continue  # warm-up
        for event_id in commit.event_ids:
            seen = poller.first_seen.get(event_id)
            if seen is None:
                unseen += 1
            else:
                latencies[index].append((seen - commit.at) * 1000.0)
    a, b = windows[0][0], windows[-1][1]
    integrity, stats = await phase.finish(produced)
    return Latency(
        latencies_ms=latencies,
        unseen=unseen,
        rate=(sampler.at(b) - sampler.at(a)) / (b - a),
        cpu=usage,
        poller=poller,
        poll_seconds=poll_seconds,
        integrity=integrity,
        stats=stats,
    )


def _integrity_row(name: str, result: Integrity) -> list[str]:
    return [
        name,
        f"{result.produced:,}",
        f"{result.stored:,}",
        f"{result.distinct:,}",
        str(result.lost),
        str(result.duplicated),
        str(result.unexpected),
        f"{result.stream_entries:,}",
        str(result.skipped_redeliveries),
        str(result.outbox_left),
        str(result.unconsumed),
        result.verify_detail,
    ]


def _tables(report: Report, sustained: Sustained, latency: Latency) -> None:
    drain_rate = (
        sustained.drain_events / sustained.drain_seconds
        if sustained.drain_seconds > 0
        else math.nan
    )
    report.grids.append(
        Grid(
            f"A. sustained: {fmt_rps(OFFERED_RATE)} events/s offered, at most "
            f"{IN_FLIGHT_CAP:,} in flight",
            ["measure", "events/s", "events/s per round", "events", CPU_HEADER],
            [
                [
                    "stored in activity.event (queryable), producer running",
                    fmt_rps(sustained.rate),
                    spread(sustained.rates, fmt_rps),
                    f"{sustained.stored:,}",
                    _fmt_usage(sustained.cpu),
                ],
                [
                    "committed to the outbox (the producer, held back by the cap)",
                    fmt_rps(sustained.offered_rate),
                    spread(sustained.offered, fmt_rps),
                    f"{sustained.committed:,}",
                    "(same window)",
                ],
                [
                    "backlog drain once the producer stopped",
                    fmt_rps(drain_rate),
                    "-",
                    f"{sustained.drain_events:,} in {sustained.drain_seconds:.2f} s",
                    _fmt_usage(sustained.drain_cpu),
                ],
            ],
        )
    )
    pooled = latency.pooled
    answers = latency.poller.answer_ms
    report.grids.append(
        Grid(
            f"B. latency at {fmt_rps(LATENCY_RATE)} events/s ({LATENCY_BATCH} per transaction "
            f"every {LATENCY_BATCH / LATENCY_RATE * 1000:g} ms)",
            [
                "measure",
                "events/s",
                "p50 ms",
                "p99 ms",
                "p99 per round",
                "max ms",
                "samples",
                CPU_HEADER,
            ],
            [
                [
                    "COMMIT -> first listed by GET /activity",
                    fmt_rps(latency.rate),
                    fmt_ms(percentile(pooled, 0.50)),
                    fmt_ms(percentile(pooled, 0.99)),
                    spread([percentile(w, 0.99) for w in latency.latencies_ms], fmt_ms),
                    fmt_ms(max(pooled, default=math.nan)),
                    f"{len(pooled):,} events"
                    + (f", {latency.unseen} unseen" if latency.unseen else ""),
                    _fmt_usage(latency.cpu),
                ],
                [
                    f"the poller's GET {ACTIVITY_PATH}?limit={PAGE_LIMIT} (answer time)",
                    f"{latency.poller.polls / latency.poll_seconds:,.0f} polls/s",
                    fmt_ms(percentile(answers, 0.50)),
                    fmt_ms(percentile(answers, 0.99)),
                    "-",
                    fmt_ms(max(answers, default=math.nan)),
                    f"{len(answers):,} answers ({latency.poller.extra_pages} extra pages, "
                    f"{latency.poller.errors} errors)",
                    "(same window)",
                ],
            ],
        )
    )
    report.grids.append(
        Grid(
            "integrity after each phase (rows with seq above the phase's starting head)",
            [
                "phase",
                "produced",
                "stored rows",
                "distinct ids",
                "lost",
                "duplicated",
                "unexpected",
                "stream entries",
                "redeliveries skipped",
                "outbox left",
                "stream unconsumed",
                "GET /activity/verify",
            ],
            [
                _integrity_row("A sustained", sustained.integrity),
                _integrity_row("B latency", latency.integrity),
            ],
        )
    )


def _stats_row(name: str, stats: TableStats, produced: int) -> list[str]:
    return [
        name,
        f"{stats.event_seq_scans:,}",
        f"{stats.event_rows_scanned:,}",
        f"{stats.event_rows_scanned / produced:,.1f}" if produced else "-",
        f"{stats.outbox_dead_rows:,}",
    ]


def _diagnostics(report: Report, sustained: Sustained, latency: Latency) -> None:
    report.grids.append(
        Grid(
            "PostgreSQL during each phase (pg_stat_user_tables)",
            [
                "phase",
                "seq scans of activity.event",
                "rows they read",
                "rows read per event stored",
                "dead rows in auth.audit_outbox at the end",
            ],
            [
                _stats_row("A sustained", sustained.stats, sustained.integrity.produced),
                _stats_row("B latency", latency.stats, latency.integrity.produced),
            ],
        )
    )


def _verdicts(report: Report, sustained: Sustained, latency: Latency) -> None:
    pooled = latency.pooled
    both = {"A": sustained.integrity, "B": latency.integrity}
    report.verdicts += [
        value_at_least(
            "sustained ingestion, outbox -> queryable row",
            sustained.rate,
            sustained.rates,
            TARGET_RATE,
            unit="events/s",
        ),
        latency_below(
            f"COMMIT -> listed by /activity p99 at {fmt_rps(LATENCY_RATE)} events/s",
            percentile(pooled, 0.99),
            [percentile(w, 0.99) for w in latency.latencies_ms],
            P99_TARGET_MS,
            missing=latency.unseen,
        ),
        all_zero(
            "events lost and stored twice",
            {
                "lost": sum(r.lost for r in both.values()),
                "duplicated": sum(r.duplicated for r in both.values()),
            },
            per=[
                f"{k}: {r.lost} lost, {r.duplicated} dup of {r.produced:,}" for k, r in both.items()
            ],
            target="0 and 0",
        ),
        all_zero(
            "left behind: outbox rows, unconsumed entries, broken chains, foreign rows",
            {
                "outbox rows": sum(r.outbox_left for r in both.values()),
                "unconsumed": sum(r.unconsumed for r in both.values()),
                "broken chains": sum(not r.verify_ok for r in both.values()),
                "foreign rows": sum(r.unexpected for r in both.values()),
            },
            per=[f"{k}: verify {r.verify_detail}" for k, r in both.items()],
            target="all 0",
        ),
    ]


def _notes(report: Report, sustained: Sustained, latency: Latency, options: Options) -> None:
    batch = int(_setting(options, "audit_consumer_batch_size"))
    poller = latency.poller
    polls_per_second = poller.polls / latency.poll_seconds
    pages_per_second = (poller.polls + poller.extra_pages) / latency.poll_seconds
    api_ms_per_page = latency.cpu.get("api", math.nan) / pages_per_second * 1000.0
    starved = sustained.min_in_flight < 2 * batch
    report.notes += [
        "Sustained rate: the head of the chain (`max(seq)`, gapless: one per stored event) is "
        f"sampled every {SAMPLE_INTERVAL * 1000:g} ms on its own connection and interpolated "
        "at the round boundaries; a row counts once another connection can read it. Rows appear "
        "a consumer batch at a time, so a round's rate has a granularity of one batch per round "
        f"({batch:,} events in {options.duration:g} s = {batch / options.duration:,.0f} "
        "events/s).",
        f"Offered load: the producer is paced at {fmt_rps(OFFERED_RATE)} events/s but skips "
        f"a turn while {IN_FLIGHT_CAP:,} events are committed and not yet queryable; the "
        f"fewest in flight during the measured rounds was {sustained.min_in_flight:,} "
        + (
            f"(the consumer reads up to {batch:,} at a time): the pipeline, not the producer, "
            "set the rate."
            if not starved
            else "which is close to the batch sizes: the pipeline may have waited for work, "
            "so this rate is a lower bound."
        ),
        "The drain row is the same pipeline emptying what was in flight when the producer "
        "stopped, with no producer load: what relay and consumer do with the machine to "
        "themselves.",
        "Latency: from the producer's COMMIT acknowledgement to the arrival of the first "
        f"answer of `GET {ACTIVITY_PATH}` that lists the event (newest first, walking "
        "`next_cursor` down to the last row seen, so a burst larger than a page is not "
        f"skipped). The poller aims at one poll every {POLL_INTERVAL * 1000:g} ms and managed "
        f"{polls_per_second:,.0f}/s: an event is stamped up to one poll period plus one answer "
        "late, so the figures are upper bounds with that granularity. Producer and poller "
        "share this process's event loop and clock.",
        f"The poller is not free: a page of {PAGE_LIMIT} events costs the activity API about "
        f"{api_ms_per_page:,.0f} ms of CPU ({fmt_cpu(latency.cpu.get('api', math.nan))} cores "
        f"at {pages_per_second:,.0f} pages/s), taken from the same two cores as the consumer.",
        "CPU in cores over the measured rounds: bench = this process (producer, sampler, "
        "poller); db = the backends of the benchmark's database (every service's and ours); db "
        "background = PostgreSQL's own processes (WAL writer, checkpointer, ...); redis = the "
        "Redis server (shared with anything else using it); other = the rest of the machine; "
        "hypervisor steal = time this virtual machine wanted to run and the host ran someone "
        "else (it slows every process without showing in their columns).",
        "PostgreSQL table: sequential scans of activity.event must stay at 0; one per consumer "
        "batch would mean the duplicate check reads the whole chain, and its cost grows with "
        "the table (see bench/README.md). Counters are flushed by the backends about once a "
        "second, so they are lower bounds.",
    ]
    if sustained.ran_out:
        report.notes.append("The prebuilt events ran out before the end of phase A.")


async def run(options: Options) -> Report:
    pg_settings: dict[str, str] = {}
    report = Report(
        key=KEY,
        title=TITLE,
        setup=[
            f"relay: inside the auth server (`{AUTH_FACTORY}`, its lifespan task, as in "
            f"production), AUDIT_RELAY_BATCH_SIZE={_setting(options, 'audit_relay_batch_size')}, "
            f"AUDIT_RELAY_IDLE_INTERVAL={_setting(options, 'audit_relay_idle_interval')}; the "
            "server answers no requests during the phases",
            f"consumer: one `python -m {CONSUMER_MODULE}` process, production settings, "
            f"AUDIT_CONSUMER_BATCH_SIZE={_setting(options, 'audit_consumer_batch_size')}, "
            f"AUDIT_CONSUMER_BLOCK_MS={_setting(options, 'audit_consumer_block_ms')}",
            f"activity API: `{ACTIVITY_FACTORY}`, JWKS from the auth server; read as a "
            "super_admin made with `auth_service.cli create-admin` and signed in through the API",
            "events: `auth.user.login` built by the auth service's AuditRecorder (~480 bytes of "
            "JSON) before each phase; this process writes them to auth.audit_outbox, one "
            "multi-row INSERT per transaction",
            f"A: {fmt_rps(OFFERED_RATE)} events/s offered in transactions of {SUSTAINED_BATCH}, "
            f"at most {IN_FLIGHT_CAP:,} in flight, {SUSTAINED_WARMUP:g} s warm-up; "
            f"B: {fmt_rps(LATENCY_RATE)} events/s, {LATENCY_WARMUP:g} s warm-up, poll every "
            f"{POLL_INTERVAL * 1000:g} ms",
            f"{options.rounds} consecutive rounds of {options.duration:g} s per phase (one "
            "continuous run each: the pipeline's state carries over, so phases are not "
            "interleaved)",
            *options.describe()[1:],
        ],
    )
    sustained_count = math.ceil(
        OFFERED_RATE * (SUSTAINED_WARMUP + options.rounds * options.duration)
    )
    latency_count = math.ceil(LATENCY_RATE * (LATENCY_WARMUP + options.rounds * options.duration))
    async with bench_environment() as env, AsyncExitStack() as stack:
        # Built while the servers start; both phases' events, in a thread (pure Python work).
        building = asyncio.create_task(
            asyncio.to_thread(build_events, sustained_count + latency_count)
        )
        stack.callback(building.cancel)
        server_env = env.server_env(**options.server_env)
        auth = await stack.enter_async_context(
            run_server("auth", AUTH_FACTORY, server_env, workdir=env.workdir)
        )
        token = await admin_token(auth, server_env, run_id=env.run_id, workdir=env.workdir)
        redis = Redis.from_url(env.redis_url, decode_responses=True)
        stack.push_async_callback(redis.aclose)
        stream = KeySpace(env.redis_prefix).key(_setting(options, "audit_stream"))
        group = _setting(options, "audit_consumer_group")

        async def consumer_ready() -> bool:
            return await group_exists(redis, stream, group)

        consumer = await stack.enter_async_context(
            run_worker(
                "consumer", CONSUMER_MODULE, server_env, workdir=env.workdir, ready=consumer_ready
            )
        )
        activity_env = {**server_env, "JWKS_URL": f"{auth.url}/.well-known/jwks.json"}
        activity = await stack.enter_async_context(
            run_server("activity", ACTIVITY_FACTORY, activity_env, workdir=env.workdir)
        )
        connections = [await connect(env.database_url) for _ in range(3)]
        for connection in connections:
            stack.push_async_callback(connection.close)
        for name in ("synchronous_commit", "fsync", "autovacuum"):
            pg_settings[name] = str(await connections[2].fetchval(f"SHOW {name}"))
        api = httpx.AsyncClient(
            base_url=activity.url, headers={"Authorization": f"Bearer {token}"}, timeout=10.0
        )
        stack.push_async_callback(api.aclose)
        pipeline = Pipeline(
            producer=connections[0],
            sampler=connections[1],
            checks=connections[2],
            redis=redis,
            api=api,
            stream=stream,
            group=group,
            consumer_log=consumer.log,
        )
        events = await building
        # The admin's own events (registration, login) go through first.
        await pipeline.settle(expected_head=None, within=SETTLE_TIMEOUT)
        phase = Phase(
            pipeline=pipeline,
            groups={
                "relay": [auth.pid],
                "consumer": [consumer.pid],
                "api": [activity.pid],
                "db-bg": cpu.find_processes(postgres_background=True),
                "redis": cpu.find_processes(prefix=b"redis-server"),
            },
            database=env.database_name,
        )
        sys_note = ", ".join(f"{k}={v}" for k, v in pg_settings.items())
        report.setup.append(f"PostgreSQL 15 of this machine: {sys_note}")
        sustained = await _sustained(phase, events[:sustained_count], options)
        latency = await _latency(phase, events[sustained_count:], options)
    _tables(report, sustained, latency)
    _diagnostics(report, sustained, latency)
    _verdicts(report, sustained, latency)
    _notes(report, sustained, latency, options)
    return report
