from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import bindparam, or_, select, text
from sqlalchemy.ext.asyncio import AsyncEngine

from auth_service.models import KeyState, SigningKey
from common.db import CompiledQuery, Repository

_ACTIVE_KID = CompiledQuery(select(SigningKey.kid).where(SigningKey.state == str(KeyState.ACTIVE)))
_ENCRYPTED_KEY = CompiledQuery(
    select(SigningKey.private_key_encrypted).where(SigningKey.kid == bindparam("kid"))
)


_ROTATION_LOCK = text("SELECT pg_advisory_xact_lock(hashtext('auth.signing_key'))")


class SigningKeyRepository(Repository[SigningKey]):
    model = SigningKey

    async def lock_for_rotation(self) -> None:
        """Serialise key creation and rotation across processes, until the commit."""
        await self.session.execute(_ROTATION_LOCK)

    async def get_active(self, *, for_update: bool = False) -> SigningKey | None:
        statement = select(SigningKey).where(SigningKey.state == KeyState.ACTIVE)
        if for_update:
            statement = statement.with_for_update()
        return await self.session.scalar(statement)

    async def published(self, *, retired_after: datetime) -> list[SigningKey]:
        """The active key and every retired key that may still have unexpired tokens."""
        rows = await self.session.scalars(
            select(SigningKey)
            .where(or_(SigningKey.state == KeyState.ACTIVE, SigningKey.retired_at > retired_after))
            .order_by(SigningKey.created_at.desc())
        )
        return list(rows)


class ActiveKeyReads:
    """Which key signs, and its encrypted private half: asked by every replica at most every
    SIGNING_KEY_RECHECK_SECONDS on the token-issuing path, outside any transaction (decision
    0007)."""

    def __init__(self, engine: AsyncEngine) -> None:
        self.engine = engine

    async def active_kid(self) -> str | None:
        row = await _ACTIVE_KID.first_row(self.engine)
        return str(row["kid"]) if row is not None else None

    async def encrypted_private_key(self, kid: str) -> bytes | None:
        row: dict[str, Any] | None = await _ENCRYPTED_KEY.first_row(self.engine, kid=kid)
        return bytes(row["private_key_encrypted"]) if row is not None else None
