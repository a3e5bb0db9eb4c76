from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class ClientInfo:
    """Where a request came from, as far as a service needs to know (no HTTP objects)."""

    ip: str | None = None
    user_agent: str | None = None
