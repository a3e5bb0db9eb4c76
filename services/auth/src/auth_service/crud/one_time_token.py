from __future__ import annotations

import uuid
from datetime import datetime
from typing import Generic, TypeVar

from pydantic import BaseModel
from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from auth_service.models import EmailVerificationToken, PasswordResetToken
from auth_service.models.token import OneTimeToken
from common.db import CRUDBase

TokenT = TypeVar("TokenT", PasswordResetToken, EmailVerificationToken)


class OneTimeTokenCRUD(CRUDBase[TokenT, BaseModel, BaseModel], Generic[TokenT]):
    """Tokens mailed to an address. A use locks the account's row first (`users.lock`), then
    the token's, the lock order of every change to an account: read the owner unlocked, lock the
    account, then read the token `for_update`."""

    async def owner(self, session: AsyncSession, token_hash: str) -> uuid.UUID | None:
        model: type[OneTimeToken] = self.model
        return await session.scalar(select(model.user_id).where(model.token_hash == token_hash))

    async def get_by_hash(
        self, session: AsyncSession, token_hash: str, *, for_update: bool = False
    ) -> TokenT | None:
        statement = select(self.model).where(self.model.token_hash == token_hash)
        if for_update:
            statement = statement.with_for_update().execution_options(populate_existing=True)
        return await session.scalar(statement)

    async def use_all_for_user(
        self, session: AsyncSession, user_id: uuid.UUID, *, at: datetime
    ) -> None:
        await session.execute(
            update(self.model)
            .where(self.model.user_id == user_id, self.model.used_at.is_(None))
            .values(used_at=at)
        )


reset_tokens = OneTimeTokenCRUD(PasswordResetToken)
verification_tokens = OneTimeTokenCRUD(EmailVerificationToken)
