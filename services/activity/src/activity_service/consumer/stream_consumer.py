"""The consumer loop: audit stream -> chain writer, at least once in, exactly once stored.

Each round:
1. entries whose last attempt failed on an outage are tried again (kept in memory);
2. every `claim_interval`, XAUTOCLAIM takes over entries left pending longer than `claim_idle`
   (their consumer died, or they failed and wait for another try), one page per round;
3. XREADGROUP reads up to `batch_size` new entries, blocking up to `block_ms`.

A batch is parsed, stored in one transaction (the writer skips event ids already stored), and
acknowledged only after the commit. If the batch cannot be stored for any reason but an outage,
its entries are stored one by one so that only the bad ones stay pending; an entry that cannot be
parsed, whatever the error, stays pending too. Each failed entry is retried through XAUTOCLAIM
until its delivery count reaches `max_deliveries`, then copied to the dead-letter stream
(`<stream>.dead`, with the reason and the original entry id) and acknowledged, atomically.

An outage (PostgreSQL or Redis unreachable, a lost connection, a pool timeout: see
`recorder.is_outage`) is not the entries' fault: nothing is dead-lettered, the batch is retried
from memory after a backoff, up to MAX_RETRIES_FROM_MEMORY times. Then it is left to the group,
pending, for XAUTOCLAIM to hand out again once idle (to this consumer or another): a batch that
never succeeds cannot hold a consumer forever.

Several consumers may run at once: the group hands each entry to one of them, and the writer's
advisory lock orders their batches in the chain.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Sequence
from typing import Any

from redis.asyncio import Redis
from redis.exceptions import ResponseError

from activity_service.consumer.entries import (
    Entry,
    Fields,
    InvalidEntry,
    dead_letter_fields,
    parse_entry,
)
from activity_service.consumer.metrics import ConsumerMetrics
from activity_service.services.chain_writer import ChainWriter, RejectedBatch
from activity_service.services.event_rows import NewEvent
from common.retry import Backoff, Every

logger = logging.getLogger(__name__)

# Tries of a batch kept in memory after an outage; with the doubling backoff, a few seconds.
MAX_RETRIES_FROM_MEMORY = 5
METRICS_INTERVAL = 5.0
_SCAN_DONE = b"0-0"


class AuditConsumer:
    def __init__(
        self,
        *,
        redis: Redis,
        writer: ChainWriter,
        stream: str,
        group: str,
        name: str,
        batch_size: int = 500,
        block_ms: int = 1000,
        claim_idle_ms: int = 60_000,
        claim_interval_ms: int = 5_000,
        max_deliveries: int = 5,
        max_backoff: float = 30.0,
        metrics: ConsumerMetrics | None = None,
    ) -> None:
        self.redis = redis
        self.writer = writer
        self.stream = stream
        self.dead_stream = f"{stream}.dead"
        self.group = group
        self.name = name
        self.batch_size = batch_size
        self.block_ms = block_ms
        self.claim_idle_ms = claim_idle_ms
        self.claim_interval = claim_interval_ms / 1000
        self.max_deliveries = max_deliveries
        self.max_backoff = max_backoff
        self.metrics = metrics
        self._retry: list[Entry] = []
        self._retries = 0  # tries of `_retry` from memory so far
        self._claim_cursor = _SCAN_DONE
        self._next_claim = 0.0  # the first round looks for entries a dead consumer left
        self._metrics_due = Every(METRICS_INTERVAL)

    async def ensure_group(self) -> None:
        """The group reads the stream from its first entry; creating it again is a no-op."""
        try:
            await self.redis.xgroup_create(self.stream, self.group, id="0", mkstream=True)
        except ResponseError as exc:
            if "BUSYGROUP" not in str(exc):
                raise

    async def run(self, stop: asyncio.Event) -> None:
        """Consume until `stop` is set; the round under way is finished (stored, acknowledged)
        first. Outages are waited out with a doubling backoff."""
        backoff = Backoff(
            "audit consumer round",
            logger,
            ceiling=self.max_backoff,
            errors=self.metrics.errors if self.metrics is not None else None,
        )
        ready = False
        while not stop.is_set():
            try:
                if not ready:
                    await self.ensure_group()
                    ready = True
                await self.step()
                await self._update_metrics()
            except Exception as exc:  # noqa: BLE001 (any outage: back off, entries stay pending)
                if isinstance(exc, ResponseError) and "NOGROUP" in str(exc):
                    ready = False  # the stream or group was deleted: create it again
                delay = backoff.failed(exc)
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(stop.wait(), delay)
                continue
            backoff.recovered()
        await self._leave()

    async def step(self) -> int:
        """One round; returns how many entries it handled."""
        if self._retry:
            entries, self._retry = self._retry, []
            await self._handle(entries, retries=self._retries + 1)
            return len(entries)
        handled = 0
        if time.monotonic() >= self._next_claim:
            handled += await self._claim()
        # Do not wait for new entries while there is work to catch up on.
        handled += await self._read(block=None if handled else self.block_ms)
        return handled

    async def _claim(self) -> int:
        cursor, entries, _deleted = await self.redis.xautoclaim(
            self.stream,
            self.group,
            self.name,
            min_idle_time=self.claim_idle_ms,
            start_id=self._claim_cursor,
            count=self.batch_size,
        )
        self._claim_cursor = cursor
        if cursor == _SCAN_DONE:
            self._next_claim = time.monotonic() + self.claim_interval
        if entries:
            logger.info("took over %d pending entries", len(entries))
            if self.metrics is not None:
                self.metrics.claimed.inc(len(entries))
            await self._handle(entries)
        return len(entries)

    async def _read(self, *, block: int | None) -> int:
        response: Any = await self.redis.xreadgroup(
            self.group, self.name, {self.stream: ">"}, count=self.batch_size, block=block
        )
        entries: list[Entry] = response[0][1] if response else []
        if entries:
            await self._handle(entries)
        return len(entries)

    async def _handle(self, entries: list[Entry], *, retries: int = 0) -> None:
        """`retries`: how many times these entries were tried from memory before."""
        try:
            await self._process(entries)
        except BaseException:
            # An outage: what was not acknowledged is still pending in the group.
            if retries < MAX_RETRIES_FROM_MEMORY:
                self._retry, self._retries = entries, retries
            else:
                logger.warning(
                    "left %d entries pending for redelivery after %d tries",
                    len(entries),
                    retries + 1,
                )
            raise

    async def _process(self, entries: Sequence[Entry]) -> None:
        done: list[bytes] = []
        parsed: list[tuple[bytes, NewEvent]] = []
        failed: dict[bytes, str] = {}
        fields_of: dict[bytes, Fields] = {}
        for entry_id, fields in entries:
            if not fields:  # trimmed from the stream before anyone read it: nothing to store
                done.append(entry_id)
                continue
            fields_of[entry_id] = fields
            try:
                parsed.append((entry_id, parse_entry(fields)))
            except InvalidEntry as exc:
                failed[entry_id] = exc.reason
        if parsed:
            try:
                await self._store([event for _, event in parsed])
                done.extend(entry_id for entry_id, _ in parsed)
            except RejectedBatch:  # anything but an outage (those leave this method)
                for entry_id, event in parsed:  # keep the good ones flowing past the bad
                    try:
                        await self._store([event])
                        done.append(entry_id)
                    except RejectedBatch as exc:
                        failed[entry_id] = f"rejected by the database: {exc.reason}"
        if done:
            await self.redis.xack(self.stream, self.group, *done)
        if failed:
            await self._failed(
                {entry_id: (fields_of[entry_id], r) for entry_id, r in failed.items()}
            )

    async def _store(self, events: list[NewEvent]) -> None:
        result = await self.writer.append(events)
        if self.metrics is not None:
            self.metrics.stored.inc(result.stored)
            self.metrics.duplicates.inc(result.duplicates)
        if result.duplicates:
            logger.info("skipped %d event(s) already stored", result.duplicates)

    async def _failed(self, failed: dict[bytes, tuple[Fields, str]]) -> None:
        """Leave failed entries pending for another try, or dead-letter them after the last."""
        async with self.redis.pipeline(transaction=False) as pipe:
            for entry_id in failed:
                pipe.xpending_range(self.stream, self.group, min=entry_id, max=entry_id, count=1)
            pending = await pipe.execute()
        for (entry_id, (fields, reason)), info in zip(failed.items(), pending, strict=True):
            if self.metrics is not None:
                self.metrics.failed.inc()
            if not info:
                continue  # no longer pending: another consumer dealt with it meanwhile
            deliveries = int(info[0]["times_delivered"])
            if deliveries < self.max_deliveries:
                logger.warning(
                    "entry %s failed (delivery %d of %d), left pending: %s",
                    entry_id.decode(),
                    deliveries,
                    self.max_deliveries,
                    reason,
                )
                continue
            letter = dead_letter_fields(
                fields, reason=reason, entry_id=entry_id, deliveries=deliveries, consumer=self.name
            )
            async with self.redis.pipeline(transaction=True) as tx:
                tx.xadd(self.dead_stream, letter)  # type: ignore[arg-type]  # bytes keys are fine
                tx.xack(self.stream, self.group, entry_id)
                await tx.execute()
            if self.metrics is not None:
                self.metrics.dead_lettered.inc()
            logger.error(
                "entry %s moved to %s after %d deliveries: %s",
                entry_id.decode(),
                self.dead_stream,
                deliveries,
                reason,
            )

    async def _update_metrics(self) -> None:
        if self.metrics is None or not self._metrics_due.due():
            return
        for group in await self.redis.xinfo_groups(self.stream):
            if group["name"] in (self.group, self.group.encode()):
                self.metrics.pending.set(group["pending"])
                if group.get("lag") is not None:
                    self.metrics.lag.set(group["lag"])

    async def _leave(self) -> None:
        """Remove this consumer's name from the group if it holds no pending entries (names are
        per process: they would pile up). Entries still pending stay for others to claim."""
        try:
            mine = await self.redis.xpending_range(
                self.stream, self.group, min="-", max="+", count=1, consumername=self.name
            )
            if not mine:
                await self.redis.xgroup_delconsumer(self.stream, self.group, self.name)
        except Exception as exc:  # noqa: BLE001 (best effort on the way out)
            logger.warning("could not leave the consumer group cleanly: %r", exc)
