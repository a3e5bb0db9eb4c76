"""The filters of the event lists and the export, as the query string gives them."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Final

# What the filters accept. Producers' identifiers are UUIDs, `service:<name>` and the like;
# anything else (quotes, spaces, semicolons, SQL) is refused with 422 before it reaches a query.
IDENTIFIER_PATTERN: Final = r"^[A-Za-z0-9][A-Za-z0-9._:@/+=-]*$"


@dataclass(frozen=True, slots=True)
class EventFilters:
    """`since` is inclusive, `until` exclusive (both on `occurred_at`)."""

    actor_id: str | None = None
    action: str | None = None
    resource_type: str | None = None
    resource_id: str | None = None
    since: datetime | None = None
    until: datetime | None = None
