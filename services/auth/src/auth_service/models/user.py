from __future__ import annotations

from datetime import datetime

from sqlalchemy import DateTime, String, text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from auth_service.models.base import AuthBase
from auth_service.models.role import Role, user_role
from common.db import Timestamps, UUIDPrimaryKey, utcnow


class User(UUIDPrimaryKey, Timestamps, AuthBase):
    __tablename__ = "user"

    # Stored lower-cased, so the unique constraint is case-insensitive.
    email: Mapped[str] = mapped_column(String(320), unique=True)
    full_name: Mapped[str | None] = mapped_column(String(200))
    password_hash: Mapped[str] = mapped_column(String(255))
    is_active: Mapped[bool] = mapped_column(default=True, server_default=text("true"))
    password_changed_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), default=utcnow, server_default=text("now()")
    )
    last_login_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    # When the owner of the address proved it (a link mailed to it, or an operator's word).
    email_verified_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    roles: Mapped[list[Role]] = relationship(secondary=user_role, lazy="raise", order_by=Role.name)

    @property
    def email_verified(self) -> bool:
        return self.email_verified_at is not None
