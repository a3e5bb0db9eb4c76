"""Response bodies and query filters of the activity service."""

from activity_service.schemas.event import (
    ActorResponse,
    EventResponse,
    ResourceResponse,
    column_values,
)
from activity_service.schemas.filters import IDENTIFIER_PATTERN, EventFilters
from activity_service.schemas.verify import ChainBrokenResponse, ChainIntactResponse, VerifyResponse

__all__ = [
    "IDENTIFIER_PATTERN",
    "ActorResponse",
    "ChainBrokenResponse",
    "ChainIntactResponse",
    "EventFilters",
    "EventResponse",
    "ResourceResponse",
    "VerifyResponse",
    "column_values",
]
