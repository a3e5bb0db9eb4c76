"""Phase B, latency: 1,000 events/s in transactions of 10 every 10 ms; a poller lists the
newest events through the API every 20 ms and records when each id first appears. Latency runs
from the producer's COMMIT acknowledgement to the arrival of the first answer that lists the
event: an upper bound, up to one poll period plus one answer late. Producer and poller share
this process's event loop and clock."""

from __future__ import annotations

import asyncio
import math
import time
from collections.abc import Sequence

from bench.benchmarks.audit_ingestion.pipeline import Commit, OutboxEvent, Outcome, Pipeline
from bench.benchmarks.audit_ingestion.probes import (
    ACTIVITY_PATH,
    CPU_HEADER,
    PAGE_LIMIT,
    ActivityPoller,
    fmt_usage,
    windows,
)
from bench.report import Grid, columns, fmt_cpu, fmt_ms, fmt_rps, spread
from bench.runner import Options
from bench.stats import percentile
from bench.verdicts import latency_below

RATE = 1_000.0
BATCH = 10
WARMUP = 1.0
POLL_INTERVAL = 0.02
SEEN_TIMEOUT = 30.0
P99_TARGET_MS = 1_000.0


async def _pace(pipeline: Pipeline, events: Sequence[OutboxEvent]) -> list[Commit]:
    """`BATCH` events per transaction at `RATE`, until the prebuilt events are all written."""
    interval = BATCH / RATE
    commits = []
    next_send = time.perf_counter()
    for position in range(0, len(events), BATCH):
        await asyncio.sleep(max(0.0, next_send - time.perf_counter()))
        next_send = max(next_send + interval, time.perf_counter())
        commits.append(await pipeline.commit(events[position : position + BATCH]))
    return commits


async def run(pipeline: Pipeline, events: Sequence[OutboxEvent], options: Options) -> Outcome:
    begun, sampler = await pipeline.begin()
    poller = ActivityPoller(pipeline.api, after_seq=begun.base, interval=POLL_INTERVAL)
    stop_sampling, stop_polling = asyncio.Event(), asyncio.Event()
    sampling = asyncio.create_task(sampler.run(stop_sampling))
    polling = asyncio.create_task(poller.run(stop_polling))
    polling_since = time.perf_counter()
    rounds = windows(time.perf_counter() + options.scaled(WARMUP), options)
    start, end = rounds[0][0], rounds[-1][1]
    measuring = asyncio.create_task(pipeline.cpu_between(start, end))
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
    latencies: list[list[float]] = [[] for _ in rounds]  # per round; warm-up commits left out
    unseen = 0
    for commit in commits:
        index = next((i for i, (a, b) in enumerate(rounds) if a < commit.at <= b), -1)
        for event_id in commit.event_ids if index >= 0 else ():
            seen = poller.first_seen.get(event_id)
            if seen is None:
                unseen += 1
            else:
                latencies[index].append((seen - commit.at) * 1000.0)
    integrity, stats = await pipeline.finish(begun, produced)
    pooled, answers = [ms for r in latencies for ms in r], poller.answer_ms
    p99_rounds = [percentile(r, 0.99) for r in latencies]
    polls_per_second = poller.polls / poll_seconds
    pages_per_second = (poller.polls + poller.extra_pages) / poll_seconds
    api = usage.get("api", math.nan)
    grid = Grid(
        f"B. latency at {fmt_rps(RATE)} events/s ({BATCH} per transaction "
        f"every {BATCH / RATE * 1000:g} ms)",
        columns(
            "measure | events/s | p50 ms | p99 ms | p99 per round | max ms | samples | "
            + CPU_HEADER
        ),
        [
            [
                "COMMIT -> first listed by GET /activity",
                fmt_rps((sampler.at(end) - sampler.at(start)) / (end - start)),
                fmt_ms(percentile(pooled, 0.50)),
                fmt_ms(percentile(pooled, 0.99)),
                spread(p99_rounds, fmt_ms),
                fmt_ms(max(pooled, default=math.nan)),
                f"{len(pooled):,} events" + (f", {unseen} unseen" if unseen else ""),
                fmt_usage(usage),
            ],
            [
                f"the poller's GET {ACTIVITY_PATH}?limit={PAGE_LIMIT} (answer time)",
                f"{polls_per_second:,.0f} polls/s",
                fmt_ms(percentile(answers, 0.50)),
                fmt_ms(percentile(answers, 0.99)),
                "-",
                fmt_ms(max(answers, default=math.nan)),
                f"{len(answers):,} answers ({poller.extra_pages} extra pages, "
                f"{poller.errors} errors)",
                "(same window)",
            ],
        ],
    )
    verdict = latency_below(
        f"COMMIT -> listed by /activity p99 at {fmt_rps(RATE)} events/s",
        percentile(pooled, 0.99),
        p99_rounds,
        P99_TARGET_MS,
        missing=unseen,
    )
    notes = [
        f"Latency: the poller aims at one poll every {POLL_INTERVAL * 1000:g} ms and managed "
        f"{polls_per_second:,.0f}/s, walking `next_cursor` down to the last row seen so a burst "
        "larger than a page is not skipped; an event is stamped up to one poll period plus one "
        "answer late, so the figures are upper bounds with that granularity.",
        f"The poller is not free: a page of {PAGE_LIMIT} events costs the activity API about "
        f"{api / pages_per_second * 1000.0:,.0f} ms of CPU ({fmt_cpu(api)} cores at "
        f"{pages_per_second:,.0f} pages/s), taken from the same two cores as the consumer.",
    ]
    return Outcome(grid, verdict, notes, integrity, stats)
