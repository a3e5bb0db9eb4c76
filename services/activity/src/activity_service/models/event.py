from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import BigInteger, CheckConstraint, DateTime, Index, String, text
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Mapped, mapped_column

from activity_service.models.base import ActivityBase
from common.audit.event import ACTOR_TYPES, OUTCOMES


def _one_of(column: str, values: tuple[str, ...]) -> str:
    return f"{column} IN ({', '.join(repr(v) for v in values)})"


class Event(ActivityBase):
    """One audit event, a link of the hash chain (`services/chain.py`).

    Append-only: triggers of the migration refuse UPDATE, DELETE and TRUNCATE for every role,
    and the service's role holds only SELECT and INSERT (docs/runbooks.md). `seq` is the
    position in the chain, gapless, assigned under the chain lock by the writer
    (`services/recorder.py`); `event_id` is the producer's event id, the idempotency key.
    """

    __tablename__ = "event"
    __table_args__ = (
        CheckConstraint("seq > 0", name="seq_positive"),
        CheckConstraint(_one_of("outcome", OUTCOMES), name="outcome"),
        CheckConstraint(_one_of("actor_type", ACTOR_TYPES), name="actor_type"),
        # A length check, not a regular expression: that one doubled the cost of an insert.
        CheckConstraint("char_length(prev_hash) = 64", name="prev_hash_length"),
        CheckConstraint("char_length(hash) = 64", name="hash_length"),
        # Each filter of the query API with the keyset order (seq, newest first) behind it.
        Index("ix_event_actor_id_seq", "actor_id", "seq"),
        Index("ix_event_action_seq", "action", "seq"),
        Index("ix_event_resource_seq", "resource_type", "resource_id", "seq"),
        Index("ix_event_occurred_at", "occurred_at"),
        {"comment": "Audit trail: append-only, hash-chained in seq order"},
    )

    seq: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    event_id: Mapped[uuid.UUID] = mapped_column(unique=True)
    occurred_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    recorded_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    service: Mapped[str] = mapped_column(String(64))
    action: Mapped[str] = mapped_column(String(128))
    outcome: Mapped[str] = mapped_column(String(16))
    actor_type: Mapped[str] = mapped_column(String(16))
    actor_id: Mapped[str | None] = mapped_column(String(200))
    actor_ip: Mapped[str | None] = mapped_column(String(64))
    actor_user_agent: Mapped[str | None] = mapped_column(String(512))
    resource_type: Mapped[str | None] = mapped_column(String(64))
    resource_id: Mapped[str | None] = mapped_column(String(200))
    request_id: Mapped[str | None] = mapped_column(String(128))
    # `metadata` is taken on declarative classes; the column keeps its name.
    metadata_: Mapped[dict[str, Any]] = mapped_column(
        "metadata", JSONB, server_default=text("'{}'::jsonb")
    )
    prev_hash: Mapped[str] = mapped_column(String(64))
    hash: Mapped[str] = mapped_column(String(64))
