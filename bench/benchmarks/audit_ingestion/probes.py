"""What the benchmark watches while the pipeline runs: the head of the chain (how many rows are
queryable), what a reader of `GET /activity` sees and when, the measured windows and the CPU
columns."""

from __future__ import annotations

import asyncio
import bisect
import contextlib
import math
import time
import uuid
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Final

import httpx

from bench.report import fmt_cpu
from bench.runner import Options

ACTIVITY_PATH: Final = "/api/v1/activity"
PAGE_LIMIT: Final = 100  # the API's largest page


async def _every(interval: float, stop: asyncio.Event, step: Callable[[], Awaitable[None]]) -> None:
    """Call `step()` every `interval` seconds until `stop`; a late step does not make the next
    ones burst."""
    next_at = time.perf_counter()
    while not stop.is_set():
        await step()
        next_at = max(next_at + interval, time.perf_counter())
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), max(0.0, next_at - time.perf_counter()))


@dataclass(slots=True)
class HeadSampler:
    """`max(seq)` of the event table over time, on its own connection. `seq` is gapless (one
    per stored event, assigned under the chain lock), so it counts the rows another connection
    can query at that instant, at the cost of one index probe."""

    connection: Any
    query: str
    interval: float
    times: list[float] = field(default_factory=list)
    heads: list[int] = field(default_factory=list)
    _sampled: asyncio.Event = field(default_factory=asyncio.Event)

    @property
    def head(self) -> int:
        return self.heads[-1] if self.heads else 0

    async def sample(self) -> None:
        head = int(await self.connection.fetchval(self.query))
        self.times.append(time.perf_counter())
        self.heads.append(head)
        self._sampled.set()

    async def run(self, stop: asyncio.Event) -> None:
        await _every(self.interval, stop, self.sample)

    async def reach(self, head: int, *, within: float) -> None:
        """Wait (while `run` samples) until the head is at least `head`, or `within` passed."""
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(within):
                while self.head < head:
                    self._sampled.clear()
                    await self._sampled.wait()

    def at(self, instant: float) -> float:
        """The head at `instant`, interpolated between the samples around it."""
        index = bisect.bisect_left(self.times, instant)
        if index == 0 or index >= len(self.times):
            return float(self.heads[min(index, len(self.heads) - 1)])
        t0, t1 = self.times[index - 1], self.times[index]
        h0, h1 = self.heads[index - 1], self.heads[index]
        return h0 + (h1 - h0) * (instant - t0) / (t1 - t0) if t1 > t0 else float(h1)

    def first_reaching(self, head: int, *, after: float) -> float | None:
        """The first sample time after `after` at which the head was at least `head`."""
        start = bisect.bisect_left(self.times, after)
        pairs = zip(self.times[start:], self.heads[start:], strict=True)
        return next((t for t, h in pairs if h >= head), None)


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

    async def _walk(self) -> tuple[list[dict[str, Any]], float]:
        items, cursor, arrived = await self._page(None)
        self.polls += 1
        found = list(items)
        while found and int(found[-1]["seq"]) > self.after_seq + 1 and cursor is not None:
            items, cursor, _ = await self._page(cursor)
            self.extra_pages += 1
            found += items
        return found, arrived

    async def poll_once(self) -> None:
        try:
            found, arrived = await self._walk()
        except (httpx.HTTPError, KeyError, ValueError):
            self.errors += 1
        else:
            for item in found:
                if int(item["seq"]) > self.after_seq:
                    self.first_seen.setdefault(uuid.UUID(item["id"]), arrived)
            if found:
                self.after_seq = max(self.after_seq, int(found[0]["seq"]))
        self._polled.set()

    async def run(self, stop: asyncio.Event) -> None:
        await _every(self.interval, stop, self.poll_once)

    async def see(self, event_ids: Sequence[uuid.UUID], *, within: float) -> None:
        """Wait (while `run` polls) until every one of `event_ids` was listed, or `within`
        passed."""
        missing = [event_id for event_id in event_ids if event_id not in self.first_seen]
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(within):
                while missing:
                    self._polled.clear()
                    await self._polled.wait()
                    missing = [event_id for event_id in missing if event_id not in self.first_seen]


# CPU columns: this process, the named processes, the benchmark database's backends, the rest.
CPU_ORDER: Final = ("self", "relay", "consumer", "api", "db", "db-bg", "redis", "other", "steal")
CPU_HEADER: Final = (
    "CPU cores: bench / relay (auth) / consumer / activity API / db / db background / redis / "
    "other / hypervisor steal"
)


def fmt_usage(usage: Mapping[str, float]) -> str:
    return " / ".join(fmt_cpu(usage.get(name, math.nan)) for name in CPU_ORDER)


def event_count(rate: float, warmup: float, options: Options) -> int:
    """The events a phase offering `rate` events/s needs for its warm-up and rounds."""
    return math.ceil(rate * (options.scaled(warmup) + options.rounds * options.duration))


def windows(start: float, options: Options) -> list[tuple[float, float]]:
    """The measured rounds of a phase: consecutive windows of one continuous run."""
    return [
        (start + i * options.duration, start + (i + 1) * options.duration)
        for i in range(options.rounds)
    ]
