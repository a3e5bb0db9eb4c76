"""Roles, permissions and the tables linking them to users."""

from __future__ import annotations

from sqlalchemy import Column, ForeignKey, String, Table, text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from auth_service.models.base import AuthBase
from common.db import Timestamps, UUIDPrimaryKey

user_role = Table(
    "user_role",
    AuthBase.metadata,
    Column("user_id", ForeignKey("auth.user.id", ondelete="CASCADE"), primary_key=True),
    Column(
        "role_id", ForeignKey("auth.role.id", ondelete="RESTRICT"), primary_key=True, index=True
    ),
)

role_permission = Table(
    "role_permission",
    AuthBase.metadata,
    Column("role_id", ForeignKey("auth.role.id", ondelete="CASCADE"), primary_key=True),
    Column(
        "permission_name",
        ForeignKey("auth.permission.name", ondelete="CASCADE", onupdate="CASCADE"),
        primary_key=True,
    ),
)


class Permission(AuthBase):
    """A `resource:action` right. The catalog is seeded from code; names are the identity."""

    __tablename__ = "permission"

    name: Mapped[str] = mapped_column(String(100), primary_key=True)
    description: Mapped[str] = mapped_column(String(255), server_default=text("''"))


class Role(UUIDPrimaryKey, Timestamps, AuthBase):
    __tablename__ = "role"

    name: Mapped[str] = mapped_column(String(64), unique=True)
    description: Mapped[str] = mapped_column(String(255), server_default=text("''"))
    # Seeded roles: they cannot be renamed or deleted.
    is_system: Mapped[bool] = mapped_column(default=False, server_default=text("false"))
    permissions: Mapped[list[Permission]] = relationship(
        secondary=role_permission, lazy="raise", order_by=Permission.name
    )
