"""Tables of the activity schema."""

from activity_service.models.base import SCHEMA, ActivityBase
from activity_service.models.event import ACTOR_TYPES, OUTCOMES, Event

__all__ = ["ACTOR_TYPES", "OUTCOMES", "SCHEMA", "ActivityBase", "Event"]
