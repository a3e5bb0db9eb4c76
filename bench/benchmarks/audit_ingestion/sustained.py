"""Phase A, sustained rate: the producer offers 8,000 events/s, well above the target, but holds
back while 10,000 events are in flight, so the relay and the consumer never wait for work while
the backlog (and the drain at the end) stays bounded. The rate is that of rows becoming
queryable in `activity.event` (the chain's head, sampled), over consecutive windows after a
warm-up; the drain is the same pipeline emptying what was in flight once the producer stopped."""

from __future__ import annotations

import asyncio
import math
import time
from collections.abc import Sequence

from bench import cpu
from bench.benchmarks.audit_ingestion.pipeline import (
    SAMPLE_INTERVAL,
    SETTLE_TIMEOUT,
    Commit,
    OutboxEvent,
    Outcome,
    Pipeline,
)
from bench.benchmarks.audit_ingestion.probes import CPU_HEADER, HeadSampler, fmt_usage, windows
from bench.report import Grid, columns, fmt_rps, spread
from bench.runner import Options
from bench.verdicts import value_at_least

OFFERED_RATE = 8_000.0
BATCH = 100
IN_FLIGHT_CAP = 10_000
WARMUP = 3.0
TARGET_RATE = 5_000.0


async def _offer(
    pipeline: Pipeline, sampler: HeadSampler, events: Sequence[OutboxEvent], base: int, end: float
) -> tuple[list[Commit], bool]:
    """`BATCH` events per transaction, paced at `OFFERED_RATE` (a late transaction does not
    make the next ones burst), skipping a turn while `IN_FLIGHT_CAP` events are committed but
    not yet queryable. Returns the commits and whether the events ran out before `end`."""
    interval = BATCH / OFFERED_RATE
    commits: list[Commit] = []
    position = 0
    next_send = time.perf_counter()
    while time.perf_counter() < end:
        if position >= len(events):
            return commits, True
        await asyncio.sleep(max(0.0, next_send - time.perf_counter()))
        next_send = max(next_send + interval, time.perf_counter())
        if position - (sampler.head - base) < IN_FLIGHT_CAP:
            commits.append(await pipeline.commit(events[position : position + BATCH]))
            position += len(commits[-1].event_ids)
    return commits, False


def _committed(commits: Sequence[Commit], start: float, end: float) -> int:
    return sum(len(c.event_ids) for c in commits if start < c.at <= end)


async def run(
    pipeline: Pipeline, events: Sequence[OutboxEvent], options: Options, *, batch: int
) -> Outcome:
    """Phase A; `batch` is the consumer's batch size in this run."""
    begun, sampler = await pipeline.begin()
    base = begun.base
    stop = asyncio.Event()
    sampling = asyncio.create_task(sampler.run(stop))
    rounds = windows(time.perf_counter() + options.scaled(WARMUP), options)
    start, end = rounds[0][0], rounds[-1][1]
    measuring = asyncio.create_task(pipeline.cpu_between(start, end))
    try:
        commits, ran_out = await _offer(pipeline, sampler, events, base, end)
        usage = await measuring
        produced = [event_id for c in commits for event_id in c.event_ids]
        stopped = time.perf_counter()
        drain_before = pipeline.cpu_snapshot()
        await sampler.reach(base + len(produced), within=SETTLE_TIMEOUT)
        drained = time.perf_counter()
        drain_usage = cpu.usage(drain_before, pipeline.cpu_snapshot())
    finally:
        stop.set()
        await sampling
        measuring.cancel()
    drain_seconds = (
        sampler.first_reaching(base + len(produced), after=stopped) or drained
    ) - stopped
    drain_events = len(produced) - round(sampler.at(stopped) - base)
    integrity, stats = await pipeline.finish(begun, produced)
    rates = [(sampler.at(b) - sampler.at(a)) / (b - a) for a, b in rounds]
    offered = [_committed(commits, a, b) / (b - a) for a, b in rounds]
    # The fewest events committed but not yet queryable at any sample inside the window: when
    # it stays well above the relay's and consumer's batch sizes, neither ever waited for work.
    min_in_flight = min(
        (
            _committed(commits, -math.inf, t) - (head - base)
            for t, head in zip(sampler.times, sampler.heads, strict=True)
            if start <= t <= end
        ),
        default=0,
    )
    grid = Grid(
        f"A. sustained: {fmt_rps(OFFERED_RATE)} events/s offered, at most "
        f"{IN_FLIGHT_CAP:,} in flight",
        columns(f"measure | events/s | events/s per round | events | {CPU_HEADER}"),
        [
            [
                "stored in activity.event (queryable), producer running",
                fmt_rps(sum(rates) / len(rates)),
                spread(rates, fmt_rps),
                f"{round(sampler.at(end) - sampler.at(start)):,}",
                fmt_usage(usage),
            ],
            [
                "committed to the outbox (the producer, held back by the cap)",
                fmt_rps(sum(offered) / len(offered)),
                spread(offered, fmt_rps),
                f"{_committed(commits, start, end):,}",
                "(same window)",
            ],
            [
                "backlog drain once the producer stopped",
                fmt_rps(drain_events / drain_seconds if drain_seconds > 0 else math.nan),
                "-",
                f"{drain_events:,} in {drain_seconds:.2f} s",
                fmt_usage(drain_usage),
            ],
        ],
    )
    verdict = value_at_least(
        "sustained ingestion, outbox -> queryable row",
        sum(rates) / len(rates),
        rates,
        TARGET_RATE,
        unit="events/s",
    )
    notes = [
        "Sustained rate: the head of the chain (`max(seq)`, gapless: one per stored event) is "
        f"sampled every {SAMPLE_INTERVAL * 1000:g} ms on its own connection and interpolated "
        "at the round boundaries. Rows appear a consumer batch at a time, so a round's rate "
        f"has a granularity of one batch per round ({batch:,} events in {options.duration:g} s "
        f"= {batch / options.duration:,.0f} events/s).",
        f"Offered load: the producer skips a turn while {IN_FLIGHT_CAP:,} events are committed "
        f"and not yet queryable; the fewest in flight during the measured rounds was "
        f"{min_in_flight:,} "
        + (
            f"(the consumer reads up to {batch:,} at a time): the pipeline, not the producer, "
            "set the rate."
            if min_in_flight >= 2 * batch
            else "which is close to the batch sizes: the pipeline may have waited for work, "
            "so this rate is a lower bound."
        ),
    ]
    if ran_out:
        notes.append("The prebuilt events ran out before the end of phase A.")
    return Outcome(grid, verdict, notes, integrity, stats)
