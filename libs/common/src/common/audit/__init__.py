"""Audit trail: the event schema, the transactional outbox and the relay to Redis Streams."""

from common.audit.actors import anonymous, principal_actor, service_actor, user_actor
from common.audit.event import (
    ANONYMOUS,
    EVENT_FIELD,
    MAX_EVENT_BYTES,
    MAX_METADATA_BYTES,
    MAX_METADATA_DEPTH,
    SCHEMA_VERSION,
    SYSTEM,
    Actor,
    AuditEvent,
    Outcome,
    Resource,
    scrub,
)
from common.audit.outbox import AuditRecorder, OutboxMixin
from common.audit.relay import OutboxRelay, RelayMetrics, stop_relay

__all__ = [
    "ANONYMOUS",
    "EVENT_FIELD",
    "MAX_EVENT_BYTES",
    "MAX_METADATA_BYTES",
    "MAX_METADATA_DEPTH",
    "SCHEMA_VERSION",
    "SYSTEM",
    "Actor",
    "AuditEvent",
    "AuditRecorder",
    "OutboxMixin",
    "OutboxRelay",
    "Outcome",
    "RelayMetrics",
    "Resource",
    "anonymous",
    "principal_actor",
    "scrub",
    "service_actor",
    "stop_relay",
    "user_actor",
]
