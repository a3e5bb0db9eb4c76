"""Tables of the activity schema."""

from activity_service.models.base import SCHEMA, ActivityBase
from activity_service.models.event import Event

__all__ = ["SCHEMA", "ActivityBase", "Event"]
