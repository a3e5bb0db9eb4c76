"""Statements of the chain writer (`services/chain_writer.py`), run on the asyncpg connection
itself: the service's hot path (decision 0007; thousands of events a second), so it skips the
ORM: rows go in with one binary COPY per batch, and the few reads around it are plain prepared
statements. Column names come from the model, so a renamed column cannot drift from these
statements.
"""

from __future__ import annotations

import hashlib
import json
import uuid
from collections.abc import Sequence
from typing import Any, Final

from activity_service.models import SCHEMA, Event

TABLE_NAME: Final = Event.__tablename__
COLUMNS: Final = tuple(column.name for column in Event.__table__.columns)
_QUALIFIED: Final = f"{SCHEMA}.{TABLE_NAME}"

# One transaction-scoped advisory lock serialises every extension of the chain, across
# processes and hosts; the key is fixed (derived from the table's name, so it cannot collide
# with another service's lock by accident).
CHAIN_LOCK_KEY: Final = int.from_bytes(
    hashlib.sha256(f"{_QUALIFIED}:chain".encode()).digest()[:8], "big", signed=True
)

_LOCK = "SELECT pg_advisory_xact_lock($1)"
_HEAD = f"SELECT seq, hash FROM {_QUALIFIED} ORDER BY seq DESC LIMIT 1"  # noqa: S608 (constants)
# Which of the batch's ids are stored: one unique-index probe per id. The plain
# `WHERE event_id = ANY($1)` lets PostgreSQL cache a generic plan made while the table was small
# (a sequential scan), and without fresh statistics it keeps it: every batch then reads the
# whole chain (bench/RESULTS.md, audit-ingestion). The lateral probe has no such plan.
_EXISTING = (
    "SELECT probe.event_id FROM unnest($1::uuid[]) AS probe(event_id) CROSS JOIN LATERAL "  # noqa: S608 (constants)
    f"(SELECT 1 FROM {_QUALIFIED} AS stored WHERE stored.event_id = probe.event_id LIMIT 1) AS hit"
)
# JSON texts as PostgreSQL stores them in a JSONB column and gives them back, in input order.
_NORMALISE_JSON = """
SELECT coalesce(array_agg(document::jsonb::text ORDER BY position), '{}')
FROM unnest($1::text[]) WITH ORDINALITY AS input(document, position)
"""

Driver = Any  # asyncpg.Connection (asyncpg ships no type information)


class ChainStatements:
    """The chain's statements on one asyncpg connection (the caller's transaction)."""

    def __init__(self, connection: Driver) -> None:
        self.connection = connection

    async def lock(self) -> None:
        """Wait for the chain lock; it is released when the caller's transaction ends."""
        await self.connection.execute(_LOCK, CHAIN_LOCK_KEY)

    async def head(self) -> tuple[int, str] | None:
        """`(seq, hash)` of the last link, or None while the chain is empty."""
        row = await self.connection.fetchrow(_HEAD)
        return (int(row["seq"]), str(row["hash"])) if row is not None else None

    async def existing_event_ids(self, event_ids: Sequence[uuid.UUID]) -> set[uuid.UUID]:
        if not event_ids:
            return set()
        rows = await self.connection.fetch(_EXISTING, list(event_ids))
        return {uuid.UUID(str(row["event_id"])) for row in rows}

    async def normalise_json(self, documents: Sequence[str]) -> list[Any]:
        """Each JSON text as the JSONB column will return it (PostgreSQL rewrites numbers: `1e2`
        reads back as `100`, `-0.0` as `0.0`), parsed. Hashing these values, not the producer's,
        lets verification recompute the hash from the stored row."""
        texts = await self.connection.fetchval(_NORMALISE_JSON, list(documents))
        return [json.loads(text) for text in texts]

    async def insert(self, records: Sequence[tuple[Any, ...]]) -> None:
        """Binary COPY of `records` (tuples in `COLUMNS` order; JSONB as JSON text)."""
        await self.connection.copy_records_to_table(
            TABLE_NAME, schema_name=SCHEMA, columns=COLUMNS, records=records
        )
