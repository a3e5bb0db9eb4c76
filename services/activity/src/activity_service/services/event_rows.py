"""From an `AuditEvent` to the values of a row, refusing what PostgreSQL could not store.

A value PostgreSQL refuses (a NUL character, a lone UTF-16 surrogate, a number JSON cannot
carry) would fail the whole batch it travels in; caught here, the event is refused alone with a
reason, before any database work.
"""

from __future__ import annotations

import json
import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from common.audit import AuditEvent

_ENCODER = json.JSONEncoder(separators=(",", ":"), ensure_ascii=False, allow_nan=False)


class UnstorableEvent(ValueError):
    """The event is valid but holds a value the table cannot store."""


@dataclass(frozen=True, slots=True)
class NewEvent:
    """An event's columns, before the writer gives it a place in the chain."""

    event_id: uuid.UUID
    occurred_at: datetime
    service: str
    action: str
    outcome: str
    actor_type: str
    actor_id: str | None
    actor_ip: str | None
    actor_user_agent: str | None
    resource_type: str | None
    resource_id: str | None
    request_id: str | None
    metadata_json: str

    @classmethod
    def from_audit_event(cls, event: AuditEvent) -> NewEvent:
        texts = {
            "service": event.service,
            "action": event.action,
            "actor.id": event.actor.id,
            "actor.ip": event.actor.ip,
            "actor.user_agent": event.actor.user_agent,
            "resource.id": event.resource.id if event.resource else None,
            "request_id": event.request_id,
        }
        for field, text in texts.items():
            if text is not None:
                _check_text(field, text)
        try:
            metadata_json = _ENCODER.encode(event.metadata)
        except ValueError as exc:  # NaN, infinity, an integer too long to print
            raise UnstorableEvent(f"metadata cannot be stored as JSON: {exc}") from exc
        if "\\u0000" in metadata_json:  # JSON writes NUL as \u0000: look closer (rare)
            _check_json_strings("metadata", event.metadata)
        try:
            metadata_json.encode("utf-8")
        except UnicodeEncodeError as exc:
            raise UnstorableEvent("metadata is not valid Unicode (lone surrogate)") from exc
        return cls(
            event_id=event.id,
            occurred_at=event.occurred_at,
            service=event.service,
            action=event.action,
            outcome=event.outcome,
            actor_type=event.actor.type,
            actor_id=event.actor.id,
            actor_ip=event.actor.ip,
            actor_user_agent=event.actor.user_agent,
            resource_type=event.resource.type if event.resource else None,
            resource_id=event.resource.id if event.resource else None,
            request_id=event.request_id,
            metadata_json=metadata_json,
        )


def _check_text(field: str, text: str) -> None:
    if "\x00" in text:
        raise UnstorableEvent(f"{field} contains a NUL character")
    try:
        text.encode("utf-8")
    except UnicodeEncodeError as exc:
        raise UnstorableEvent(f"{field} is not valid Unicode (lone surrogate)") from exc


def _check_json_strings(field: str, value: Any) -> None:
    if isinstance(value, str):
        _check_text(field, value)
    elif isinstance(value, dict):
        for key, item in value.items():
            _check_text(f"{field} key", key)
            _check_json_strings(field, item)
    elif isinstance(value, list):
        for item in value:
            _check_json_strings(field, item)
