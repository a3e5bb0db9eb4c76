"""Refresh tokens, password-reset and e-mail verification tokens. Only SHA-256 hashes of the
tokens are stored: the tokens are 256-bit random strings, so a fast hash is enough and a stolen
table yields nothing usable."""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import DateTime, ForeignKey, String, func
from sqlalchemy.orm import Mapped, mapped_column

from auth_service.models.base import AuthBase
from common.db import UUIDPrimaryKey, utcnow


class RefreshToken(UUIDPrimaryKey, AuthBase):
    """One link of a session's rotation chain. All links of a session share `family_id`; the
    family dies at `expires_at` however often it was rotated."""

    __tablename__ = "refresh_token"

    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    user_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("auth.user.id", ondelete="CASCADE"), index=True
    )
    family_id: Mapped[uuid.UUID] = mapped_column(index=True)
    created_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), default=utcnow, server_default=func.now()
    )
    expires_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    rotated_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    revoked_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))


class OneTimeToken(UUIDPrimaryKey):
    """A token mailed to the owner of an address, usable once before it expires."""

    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    user_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("auth.user.id", ondelete="CASCADE"), index=True
    )
    created_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), default=utcnow, server_default=func.now()
    )
    expires_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    used_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))


class PasswordResetToken(OneTimeToken, AuthBase):
    __tablename__ = "password_reset_token"


class EmailVerificationToken(OneTimeToken, AuthBase):
    __tablename__ = "email_verification_token"
