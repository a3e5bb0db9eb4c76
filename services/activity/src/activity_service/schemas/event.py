"""The event as the API returns it: the `AuditEvent` document plus its place in the chain."""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from datetime import datetime
from typing import Any

from pydantic import JsonValue, model_validator

from activity_service.models import Event
from common.audit.event import ActorType, Outcome
from common.schemas import ResponseModel

# Column name -> attribute name on the model (the `metadata` column is `Event.metadata_`).
_ATTRIBUTES = {
    column.name: prop.key for prop in Event.__mapper__.column_attrs for column in prop.columns
}


def column_values(source: Any) -> dict[str, Any]:
    """The columns of an `Event`, or of a row of its table, by column name."""
    if isinstance(source, Event):
        return {name: getattr(source, attribute) for name, attribute in _ATTRIBUTES.items()}
    mapping = getattr(source, "_mapping", source)
    if not isinstance(mapping, Mapping):
        raise TypeError(f"not an event row: {type(source).__name__}")
    return dict(mapping)


class ActorResponse(ResponseModel):
    type: ActorType
    id: str | None
    ip: str | None
    user_agent: str | None


class ResourceResponse(ResponseModel):
    type: str
    id: str | None


class EventResponse(ResponseModel):
    """`id`..`metadata` are the producer's event; `seq`, `recorded_at`, `prev_hash` and `hash`
    its link in the chain (enough to recompute the hash, see `/activity/verify`)."""

    id: uuid.UUID
    occurred_at: datetime
    service: str
    action: str
    outcome: Outcome
    actor: ActorResponse
    resource: ResourceResponse | None
    request_id: str | None
    metadata: dict[str, JsonValue]
    seq: int
    recorded_at: datetime
    prev_hash: str
    hash: str

    @model_validator(mode="before")
    @classmethod
    def _from_row(cls, value: Any) -> Any:
        if isinstance(value, dict) and "actor" in value:
            return value  # already in the API's shape
        row = column_values(value)
        resource = None
        if row["resource_type"] is not None:
            resource = {"type": row["resource_type"], "id": row["resource_id"]}
        return {
            "id": row["event_id"],
            "occurred_at": row["occurred_at"],
            "service": row["service"],
            "action": row["action"],
            "outcome": row["outcome"],
            "actor": {
                "type": row["actor_type"],
                "id": row["actor_id"],
                "ip": row["actor_ip"],
                "user_agent": row["actor_user_agent"],
            },
            "resource": resource,
            "request_id": row["request_id"],
            "metadata": row["metadata"],
            "seq": row["seq"],
            "recorded_at": row["recorded_at"],
            "prev_hash": row["prev_hash"],
            "hash": row["hash"],
        }
