from __future__ import annotations

from sqlalchemy import String, text
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.orm import Mapped, mapped_column

from auth_service.models.base import AuthBase
from common.db import Timestamps, UUIDPrimaryKey


class ServiceClient(UUIDPrimaryKey, Timestamps, AuthBase):
    """A machine caller using the client-credentials grant. Its secret is 256 random bits, so
    it is stored as a SHA-256 hash (a slow password hash would only slow every token request)."""

    __tablename__ = "service_client"

    name: Mapped[str] = mapped_column(String(64), unique=True)
    secret_hash: Mapped[str] = mapped_column(String(64))
    permissions: Mapped[list[str]] = mapped_column(ARRAY(String(100)), default=list)
    is_active: Mapped[bool] = mapped_column(default=True, server_default=text("true"))
