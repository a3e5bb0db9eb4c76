"""Queries of the activity schema. The table is append-only: reads here, the chain writer's
statements in `crud/chain.py`."""

from activity_service.crud import chain
from activity_service.crud.event import events

__all__ = ["chain", "events"]
