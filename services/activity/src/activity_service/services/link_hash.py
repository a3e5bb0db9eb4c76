"""The hash chain over `activity.event`, in `seq` order.

    hash(n) = sha256_hex(prev_hash(n) || canonical(row n)),   prev_hash(n) = hash(n - 1),
    prev_hash(1) = "0" * 64

`prev_hash` enters as its 64 ASCII hex characters. `canonical` is the UTF-8 JSON of the row's
stored columns (every column but `prev_hash` and `hash`), keys sorted, no whitespace, no ASCII
escaping; timestamps in UTC ISO 8601 with microseconds (`2026-01-02T03:04:05.000006+00:00`),
the event id in its hyphenated lower-case form, `metadata` as PostgreSQL's JSONB gives it back.
It is built from the row, not from the JSON the producer sent, so anyone holding the rows (or an
export) can recompute every hash.

Changing this format breaks every stored chain: `tests/services/test_chain.py` pins it.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any, Final

GENESIS_HASH: Final = "0" * 64

# The columns a link covers, in the order of the table (sorted again when serialised).
CANONICAL_COLUMNS: Final = (
    "seq",
    "event_id",
    "occurred_at",
    "recorded_at",
    "service",
    "action",
    "outcome",
    "actor_type",
    "actor_id",
    "actor_ip",
    "actor_user_agent",
    "resource_type",
    "resource_id",
    "request_id",
    "metadata",
)


# One encoder for every row (json.dumps would build one per call); the C implementation.
_ENCODER = json.JSONEncoder(
    sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False
)


def _timestamp(value: datetime) -> str:
    if value.tzinfo is None:
        raise ValueError("naive timestamp in an audit event")
    return value.astimezone(UTC).isoformat(timespec="microseconds")


def canonical(row: Mapping[str, Any]) -> bytes:
    """The canonical bytes of a row, given as a mapping with (at least) `CANONICAL_COLUMNS`."""
    document = {name: row[name] for name in CANONICAL_COLUMNS}
    document["event_id"] = str(row["event_id"])  # UUID: lower case, hyphenated
    document["occurred_at"] = _timestamp(row["occurred_at"])
    document["recorded_at"] = _timestamp(row["recorded_at"])
    return _ENCODER.encode(document).encode("utf-8")


def link_hash(prev_hash: str, row: Mapping[str, Any]) -> str:
    """The hash of `row` following a row whose hash is `prev_hash`."""
    digest = hashlib.sha256(prev_hash.encode("ascii"))
    digest.update(canonical(row))
    return digest.hexdigest()
