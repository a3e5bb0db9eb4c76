"""The outbox relay: moves committed events from a service's outbox table to the Redis stream.

Each pass takes a batch of the oldest rows with `FOR UPDATE SKIP LOCKED` (so several replicas
share the work without taking the same rows), appends them to the stream (`XADD` with an
approximate `MAXLEN`, pipelined), deletes them and commits. Delivery is at least once: if the
commit fails after the `XADD`, the rows are sent again and the consumer drops the duplicates by
event id. While Redis or PostgreSQL is down the relay backs off (doubling up to a ceiling) and
catches up when they return; nothing is lost, since the rows stay until they were sent.

Metrics: `audit_outbox_backlog` (rows waiting), `audit_outbox_oldest_age_seconds`,
`audit_events_published_total`, `audit_relay_errors_total`.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from typing import Any

from prometheus_client import CollectorRegistry, Counter, Gauge
from redis.asyncio import Redis
from sqlalchemy import delete, func, select
from sqlalchemy.ext.asyncio import AsyncEngine

from common.audit.event import EVENT_FIELD
from common.audit.outbox import OutboxMixin
from common.retry import Backoff, Every

logger = logging.getLogger(__name__)

METRICS_INTERVAL = 5.0


class RelayMetrics:
    """`<prefix>_outbox_backlog`, `<prefix>_outbox_oldest_age_seconds`,
    `<prefix>_events_published_total`, `<prefix>_relay_errors_total` (prefix `audit` for the
    audit trail's relay)."""

    def __init__(self, registry: CollectorRegistry, prefix: str = "audit") -> None:
        self.backlog = Gauge(
            f"{prefix}_outbox_backlog", "Rows waiting in the outbox.", registry=registry
        )
        self.oldest_age = Gauge(
            f"{prefix}_outbox_oldest_age_seconds",
            "Age of the oldest row not yet published.",
            registry=registry,
        )
        self.published = Counter(
            f"{prefix}_events_published", "Rows appended to the stream.", registry=registry
        )
        self.errors = Counter(
            f"{prefix}_relay_errors",
            "Relay passes that failed and were retried.",
            registry=registry,
        )


class OutboxRelay:
    def __init__(
        self,
        *,
        engine: AsyncEngine,
        outbox: type[OutboxMixin],
        redis: Redis,
        stream: str,
        maxlen: int,
        batch_size: int = 500,
        idle_interval: float = 0.1,
        max_backoff: float = 30.0,
        metrics: RelayMetrics | None = None,
        field: str = EVENT_FIELD,
        retention_seconds: float | None = None,
    ) -> None:
        """`maxlen` bounds the stream by length; with `retention_seconds`, entries older than
        that are trimmed instead (a stream whose entries stop mattering after a while)."""
        table: Any = outbox
        self.table = table.__table__
        self.engine = engine
        self.redis = redis
        self.stream = stream
        self.maxlen = maxlen
        self.batch_size = batch_size
        self.idle_interval = idle_interval
        self.max_backoff = max_backoff
        self.metrics = metrics
        self.field = field
        self.retention_seconds = retention_seconds
        self._metrics_due = Every(METRICS_INTERVAL)
        self._stopping = asyncio.Event()
        self._woken = asyncio.Event()

    def stop(self) -> None:
        """Ask `run` to return after the pass in progress (a batch is never cut in half:
        cancelling a query midway can leave its connection unusable)."""
        self._stopping.set()

    def wake(self) -> None:
        """Cut the idle pause short: rows were just committed (callable from any code running
        on the relay's event loop, e.g. an after-commit hook)."""
        self._woken.set()

    async def _pause(self, seconds: float) -> None:
        if self._woken.is_set():
            self._woken.clear()
            return
        stopping = asyncio.ensure_future(self._stopping.wait())
        woken = asyncio.ensure_future(self._woken.wait())
        try:
            await asyncio.wait(
                {stopping, woken}, timeout=seconds, return_when=asyncio.FIRST_COMPLETED
            )
        finally:
            stopping.cancel()
            woken.cancel()
        self._woken.clear()

    def _trim(self) -> dict[str, Any]:
        if self.retention_seconds is None:
            return {"maxlen": self.maxlen, "approximate": True}
        oldest_ms = int((time.time() - self.retention_seconds) * 1000)
        return {"minid": f"{max(oldest_ms, 0)}-0", "approximate": True}

    async def relay_once(self) -> int:
        """Publish one batch; returns how many events went out."""
        columns = self.table.c
        async with self.engine.begin() as connection:
            rows = (
                await connection.execute(
                    select(columns.id, columns.payload)
                    .order_by(columns.id)
                    .limit(self.batch_size)
                    .with_for_update(skip_locked=True)
                )
            ).all()
            if not rows:
                return 0
            trim = self._trim()
            async with self.redis.pipeline(transaction=False) as pipe:
                for row in rows:
                    pipe.xadd(self.stream, {self.field: row.payload}, **trim)
                await pipe.execute()
            await connection.execute(delete(self.table).where(columns.id.in_([r.id for r in rows])))
        if self.metrics is not None:
            self.metrics.published.inc(len(rows))
        return len(rows)

    async def update_metrics(self) -> None:
        if self.metrics is None:
            return
        columns = self.table.c
        async with self.engine.connect() as connection:
            count, oldest = (
                await connection.execute(select(func.count(), func.min(columns.created_at)))
            ).one()
        self.metrics.backlog.set(count)
        age = 0.0
        if oldest is not None:
            age = max(0.0, time.time() - oldest.timestamp())
        self.metrics.oldest_age.set(age)

    async def run(self) -> None:
        """Relay until `stop()`."""
        backoff = Backoff(
            f"relay of {self.table.name}",
            logger,
            ceiling=self.max_backoff,
            errors=self.metrics.errors if self.metrics is not None else None,
        )
        while not self._stopping.is_set():
            try:
                published = await self.relay_once()
                if self._metrics_due.due():
                    await self.update_metrics()
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # noqa: BLE001 (any outage: back off, keep the rows)
                delay = backoff.failed(exc)
                # The backlog grows while Redis refuses: say so, if PostgreSQL answers.
                with contextlib.suppress(Exception):
                    await self.update_metrics()
                await self._pause(delay)
                continue
            backoff.recovered()
            if published < self.batch_size:
                await self._pause(self.idle_interval)


RELAY_STOP_TIMEOUT = 10.0


async def stop_relay(relay: OutboxRelay, task: asyncio.Task[None]) -> None:
    """Let the relay finish its batch; cancel it only if that takes unreasonably long."""
    relay.stop()
    try:
        await asyncio.wait_for(asyncio.shield(task), timeout=RELAY_STOP_TIMEOUT)
    except TimeoutError:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
