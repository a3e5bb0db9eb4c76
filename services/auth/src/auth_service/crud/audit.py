"""Writing an audit event outside any transaction: for failures, where there is no change to
record it with (a failed login writes nothing else)."""

from __future__ import annotations

from sqlalchemy import bindparam, insert
from sqlalchemy.ext.asyncio import AsyncEngine

from auth_service.models import AuditOutbox
from common.audit import AuditEvent
from common.db import CompiledQuery

_APPEND = CompiledQuery(
    insert(AuditOutbox).values(event_id=bindparam("event_id"), payload=bindparam("payload"))
)


async def append(engine: AsyncEngine, event: AuditEvent) -> None:
    await _APPEND.fetch_one(engine, event_id=event.id, payload=event.to_json())
