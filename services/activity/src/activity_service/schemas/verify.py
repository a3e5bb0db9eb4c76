"""Answers of `/activity/verify`."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel


class ChainIntactResponse(BaseModel):
    """Every link checked holds. `head_seq`/`head_hash`: the last link checked (null when the
    range held no rows); keep the head hash somewhere else to anchor the chain."""

    ok: Literal[True] = True
    checked: int
    head_seq: int | None
    head_hash: str | None


class ChainBrokenResponse(BaseModel):
    """The first link that does not hold, and why."""

    ok: Literal[False] = False
    first_broken_seq: int
    reason: str


VerifyResponse = ChainIntactResponse | ChainBrokenResponse
