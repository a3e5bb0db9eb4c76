"""The chain writer: appends a batch of events to `activity.event` in one transaction.

    normalise metadata (outside the lock) -> BEGIN -> advisory lock -> skip stored event ids
    -> read the head (seq, hash) -> number and hash the batch in Python -> COPY -> COMMIT

The lock makes every writer (any number of consumer processes) extend the chain one batch at a
time, and it is held only for the few statements that need it. Reading the head and the stored
ids under the lock is what keeps `seq` gapless and the chain unbroken: a redelivered event is
skipped there, never stored twice; duplicates inside one batch are dropped before. A batch is
all or nothing: when it fails, nothing of it is stored and the head has not moved.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import asyncpg
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from activity_service.crud import COLUMNS, ChainStatements
from activity_service.services.event_rows import NewEvent
from activity_service.services.link_hash import GENESIS_HASH, link_hash

# What says the database cannot be reached or used right now, whatever the rows: connection
# exceptions (08), insufficient resources such as too many connections or a full disk (53),
# system errors such as an I/O error (58), and a server shutting down or starting up (57P01-3).
OUTAGE_SQLSTATE_CLASSES = frozenset({"08", "53", "58"})
OUTAGE_SQLSTATES = frozenset({"57P01", "57P02", "57P03"})
_MAX_REASON = 500


def is_outage(exc: BaseException) -> bool:
    """Whether a failure while writing a batch is the database's, not the batch's: the
    connection is gone (socket errors, timeouts, a closed connection) or the server is going
    away. Anything else (a value refused, a constraint, a trigger, a missing grant, even a bug
    in the driver's encoding of a value) is charged to the batch, so that one bad entry is found
    and dead-lettered instead of being retried forever as if the database were down."""
    if isinstance(exc, OSError | asyncpg.InterfaceError):
        return True
    if isinstance(exc, asyncpg.PostgresError):
        sqlstate = str(exc.sqlstate or "")
        return sqlstate[:2] in OUTAGE_SQLSTATE_CLASSES or sqlstate in OUTAGE_SQLSTATES
    return False


class RejectedBatch(Exception):
    """The batch could not be stored because of something in it (nothing of it was stored)."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


@dataclass(frozen=True, slots=True)
class AppendResult:
    stored: int
    duplicates: int
    head_seq: int
    head_hash: str


class ChainWriter:
    def __init__(self, engine: AsyncEngine) -> None:
        self.engine = engine

    async def append(self, events: Sequence[NewEvent]) -> AppendResult:
        """Store the events of `events` not stored yet, in order, as the next links. Raises
        `RejectedBatch` when the batch is at fault, and outages (`is_outage`) as they are."""
        unique: dict[uuid.UUID, NewEvent] = {}
        for event in events:  # the first of duplicates keeps its place
            unique.setdefault(event.event_id, event)
        # Failing to get a connection (pool timeout, server unreachable) is never the batch's
        # fault: those errors leave as they are, outages.
        async with self.engine.connect() as connection:
            driver = await _driver(connection)
            try:
                stored, head = await self._append(driver, list(unique.values()))
            except Exception as exc:
                if not isinstance(exc, asyncpg.PostgresError) or is_outage(exc):
                    await connection.invalidate()  # broken, or in a state unknown: not reused
                if is_outage(exc):
                    raise
                reason = f"{exc.__class__.__name__}: {exc}"[:_MAX_REASON]
                raise RejectedBatch(reason) from exc
        return AppendResult(
            stored=stored,
            duplicates=len(events) - stored,
            head_seq=head[0],
            head_hash=head[1],
        )

    async def _append(self, driver: Any, events: Sequence[NewEvent]) -> tuple[int, tuple[int, str]]:
        """(rows stored, new head) for distinct `events`."""
        statements = ChainStatements(driver)
        metadata = await statements.normalise_json([e.metadata_json for e in events])
        async with driver.transaction():
            await statements.lock()
            known = await statements.existing_event_ids([e.event_id for e in events])
            head = await statements.head() or (0, GENESIS_HASH)
            fresh = [
                (event, meta)
                for event, meta in zip(events, metadata, strict=True)
                if event.event_id not in known
            ]
            records, head = _link(fresh, head)
            if records:
                await statements.insert(records)
        return len(records), head


async def _driver(connection: AsyncConnection) -> Any:
    raw = await connection.get_raw_connection()
    return raw.driver_connection


def _link(
    events: Sequence[tuple[NewEvent, Any]], head: tuple[int, str]
) -> tuple[list[tuple[Any, ...]], tuple[int, str]]:
    """The COPY records of `events` chained after `head`, and the new head."""
    seq, prev_hash = head
    recorded_at = datetime.now(UTC)
    records: list[tuple[Any, ...]] = []
    for event, metadata in events:
        seq += 1
        row: dict[str, Any] = {
            "seq": seq,
            "event_id": event.event_id,
            "occurred_at": event.occurred_at,
            "recorded_at": recorded_at,
            "service": event.service,
            "action": event.action,
            "outcome": event.outcome,
            "actor_type": event.actor_type,
            "actor_id": event.actor_id,
            "actor_ip": event.actor_ip,
            "actor_user_agent": event.actor_user_agent,
            "resource_type": event.resource_type,
            "resource_id": event.resource_id,
            "request_id": event.request_id,
            "metadata": metadata,
        }
        row_hash = link_hash(prev_hash, row)
        row.update(metadata=event.metadata_json, prev_hash=prev_hash, hash=row_hash)
        records.append(tuple(row[name] for name in COLUMNS))
        prev_hash = row_hash
    return records, (seq, prev_hash)
