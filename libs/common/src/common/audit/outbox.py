"""The transactional outbox: each producing service has an `audit_outbox` table in its own schema
and writes an event there in the same transaction as the change it records, so the event exists
if and only if the change committed. The relay (`common.audit.relay`) moves rows to Redis.

    class AuditOutbox(OutboxMixin, AuthBase):
        __tablename__ = "audit_outbox"

    recorder = AuditRecorder("auth", AuditOutbox)
    recorder.record(session, action="auth.user.registered", actor=..., resource=...)
    await session.commit()
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from datetime import datetime
from typing import Any

from sqlalchemy import BigInteger, DateTime, Identity, Text, func, insert
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Mapped, mapped_column
from sqlalchemy.sql.dml import Insert

from common.audit.event import Actor, AuditEvent, Outcome, Resource
from common.context import get_request_id


class OutboxMixin:
    """Columns of an outbox table. `payload` is the event's JSON exactly as it is published."""

    id: Mapped[int] = mapped_column(BigInteger, Identity(), primary_key=True)
    event_id: Mapped[uuid.UUID] = mapped_column(unique=True)
    payload: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), server_default=func.now(), index=True
    )


class AuditRecorder:
    """Builds a service's events (service name, request id, time filled in) and adds them to its
    outbox inside the caller's transaction."""

    def __init__(self, service: str, outbox: type[OutboxMixin]) -> None:
        self.service = service
        self.outbox = outbox

    def event(
        self,
        *,
        action: str,
        actor: Actor,
        outcome: Outcome = "success",
        resource: Resource | None = None,
        metadata: Mapping[str, object] | None = None,
    ) -> AuditEvent:
        # Validated like any incoming event: metadata must be JSON, secrets are scrubbed.
        return AuditEvent.model_validate(
            {
                "service": self.service,
                "action": action,
                "outcome": outcome,
                "actor": actor,
                "resource": resource,
                "request_id": get_request_id(),
                "metadata": dict(metadata or {}),
            }
        )

    def record(
        self,
        session: AsyncSession,
        *,
        action: str,
        actor: Actor,
        outcome: Outcome = "success",
        resource: Resource | None = None,
        metadata: Mapping[str, object] | None = None,
    ) -> AuditEvent:
        """Add the event to the session; it is written when the caller commits, or never."""
        event = self.event(
            action=action, actor=actor, outcome=outcome, resource=resource, metadata=metadata
        )
        model: Any = self.outbox  # a mapped subclass of the mixin
        session.add(model(event_id=event.id, payload=event.to_json()))
        return event

    def insert(self, event: AuditEvent) -> Insert:
        """The INSERT of `event`, for callers that write with Core statements."""
        table: Any = self.outbox
        return insert(table).values(event_id=event.id, payload=event.to_json())
