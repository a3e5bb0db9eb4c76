"""Verification of the hash chain (`services/chain.py`), whole or a range of it.

Rows are read in `seq` order, a batch at a time, so memory stays flat however long the chain.
For each row: its `seq` follows the previous one (a gap is a deleted row), its `prev_hash` is the
previous row's `hash` (the genesis value for seq 1), and its `hash` is recomputed from its
columns. The first row that fails any of these is reported.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from activity_service.crud import EventRepository
from activity_service.exceptions import InvalidSeqRange
from activity_service.services.link_hash import GENESIS_HASH, link_hash


@dataclass(frozen=True, slots=True)
class ChainIntact:
    """Every link checked holds; `head_seq`/`head_hash` are the last link checked (None when
    the range held no rows)."""

    checked: int
    head_seq: int | None
    head_hash: str | None
    ok: bool = True


@dataclass(frozen=True, slots=True)
class ChainBroken:
    """The first link that does not hold, and why."""

    first_broken_seq: int
    reason: str
    ok: bool = False


class ChainVerifier:
    def __init__(self, session: AsyncSession, *, batch_size: int) -> None:
        self.events = EventRepository(session)
        self.batch_size = batch_size

    async def verify(
        self, *, from_seq: int | None = None, to_seq: int | None = None
    ) -> ChainIntact | ChainBroken:
        start = from_seq or 1
        if to_seq is not None and to_seq < start:
            raise InvalidSeqRange
        prev_hash: str | None = GENESIS_HASH
        if start > 1:
            prev_hash = await self.events.hash_at(start - 1)
        expected, checked = start, 0
        while True:
            rows = await self.events.links(
                after_seq=expected - 1, to_seq=to_seq, limit=self.batch_size
            )
            for row in rows:
                if prev_hash is None:  # rows follow, but the one before the range is gone
                    return ChainBroken(
                        first_broken_seq=start - 1, reason=f"link {start - 1} is missing"
                    )
                broken = _check(row._mapping, expected, prev_hash)
                if broken is not None:
                    return broken
                prev_hash, expected, checked = row.hash, expected + 1, checked + 1
            if len(rows) < self.batch_size:
                break
        if checked == 0:
            return ChainIntact(checked=0, head_seq=None, head_hash=None)
        return ChainIntact(checked=checked, head_seq=expected - 1, head_hash=prev_hash)


def _check(row: Any, expected: int, prev_hash: str) -> ChainBroken | None:
    seq = row["seq"]
    if seq != expected:
        return ChainBroken(
            first_broken_seq=expected,
            reason=f"link {expected} is missing (the next stored link is {seq})",
        )
    if row["prev_hash"] != prev_hash:
        if seq == 1:
            reason = f"prev_hash of link 1 is not the genesis hash ({GENESIS_HASH[:8]}...)"
        else:
            reason = f"prev_hash differs from the hash of link {seq - 1}"
        return ChainBroken(first_broken_seq=seq, reason=reason)
    try:
        recomputed = link_hash(prev_hash, row)
    except (ValueError, TypeError) as exc:
        return ChainBroken(first_broken_seq=seq, reason=f"the row cannot be canonicalised: {exc}")
    if recomputed != row["hash"]:
        return ChainBroken(first_broken_seq=seq, reason="hash does not match the row's contents")
    return None
