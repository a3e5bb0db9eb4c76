"""RSA keys that sign access tokens. The private half is encrypted with a key derived from
SECRET_KEY (AES-256-GCM, the kid as associated data), so a database dump alone cannot mint
tokens."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import CheckConstraint, DateTime, Index, LargeBinary, String, func, text
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Mapped, mapped_column

from auth_service.models.base import AuthBase
from common.db import utcnow


class KeyState(StrEnum):
    ACTIVE = "active"
    RETIRED = "retired"


class SigningKey(AuthBase):
    __tablename__ = "signing_key"
    __table_args__ = (
        CheckConstraint("state IN ('active', 'retired')", name="state"),
        # At most one key signs at a time, even with several replicas starting at once.
        Index(
            "uq_signing_key_one_active",
            "state",
            unique=True,
            postgresql_where=text("state = 'active'"),
        ),
    )

    kid: Mapped[str] = mapped_column(String(64), primary_key=True)
    algorithm: Mapped[str] = mapped_column(String(16), default="RS256")
    public_jwk: Mapped[dict[str, Any]] = mapped_column(JSONB)
    private_key_encrypted: Mapped[bytes] = mapped_column(LargeBinary)
    state: Mapped[str] = mapped_column(String(16), default=KeyState.ACTIVE)
    created_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), default=utcnow, server_default=func.now()
    )
    retired_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
