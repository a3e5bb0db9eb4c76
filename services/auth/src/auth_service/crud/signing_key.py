from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel
from sqlalchemy import bindparam, or_, select
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession

from auth_service.models import KeyState, SigningKey
from common.db import CompiledQuery, CRUDBase

_ACTIVE_KID = CompiledQuery(select(SigningKey.kid).where(SigningKey.state == str(KeyState.ACTIVE)))
_ENCRYPTED_KEY = CompiledQuery(
    select(SigningKey.private_key_encrypted).where(SigningKey.kid == bindparam("kid"))
)


class SigningKeyCRUD(CRUDBase[SigningKey, BaseModel, BaseModel]):
    async def get_active(
        self, session: AsyncSession, *, for_update: bool = False
    ) -> SigningKey | None:
        statement = select(SigningKey).where(SigningKey.state == KeyState.ACTIVE)
        if for_update:
            statement = statement.with_for_update()
        return await session.scalar(statement)

    async def active_kid(self, engine: AsyncEngine) -> str | None:
        row = await _ACTIVE_KID.fetch_one(engine)
        return str(row["kid"]) if row is not None else None

    async def encrypted_private_key(self, engine: AsyncEngine, kid: str) -> bytes | None:
        row: dict[str, Any] | None = await _ENCRYPTED_KEY.fetch_one(engine, kid=kid)
        return bytes(row["private_key_encrypted"]) if row is not None else None

    async def published(
        self, session: AsyncSession, *, retired_after: datetime
    ) -> list[SigningKey]:
        """The active key and every retired key that may still have unexpired tokens."""
        rows = await session.scalars(
            select(SigningKey)
            .where(or_(SigningKey.state == KeyState.ACTIVE, SigningKey.retired_at > retired_after))
            .order_by(SigningKey.created_at.desc())
        )
        return list(rows)


signing_keys = SigningKeyCRUD(SigningKey)
