from __future__ import annotations

import uuid
from datetime import datetime
from typing import TypeVar

from sqlalchemy import delete, select, update

from auth_service.models import EmailVerificationToken, PasswordResetToken
from common.db import Repository

TokenT = TypeVar("TokenT", PasswordResetToken, EmailVerificationToken)


class OneTimeTokenRepository(Repository[TokenT]):
    """Tokens mailed to an address. A use locks the account's row first (`UserRepository.lock`),
    then the token's, the lock order of every change to an account: read the owner unlocked,
    lock the account, then read the token `for_update`."""

    async def owner(self, token_hash: str) -> uuid.UUID | None:
        model = self.model
        found: uuid.UUID | None = await self.session.scalar(
            select(model.user_id).where(model.token_hash == token_hash)
        )
        return found

    async def get_by_hash(self, token_hash: str, *, for_update: bool = False) -> TokenT | None:
        statement = select(self.model).where(self.model.token_hash == token_hash)
        if for_update:
            statement = statement.with_for_update().execution_options(populate_existing=True)
        found: TokenT | None = await self.session.scalar(statement)
        return found

    async def use_all_for_user(self, user_id: uuid.UUID, *, at: datetime) -> None:
        await self.session.execute(
            update(self.model)
            .where(self.model.user_id == user_id, self.model.used_at.is_(None))
            .values(used_at=at)
        )

    async def delete_expired(self, *, cutoff: datetime) -> int:
        """Delete the tokens that expired before `cutoff`; returns how many went."""
        result = await self.session.execute(
            delete(self.model).where(self.model.expires_at < cutoff)
        )
        return int(result.rowcount or 0)  # type: ignore[attr-defined]


class ResetTokenRepository(OneTimeTokenRepository[PasswordResetToken]):
    model = PasswordResetToken


class VerificationTokenRepository(OneTimeTokenRepository[EmailVerificationToken]):
    model = EmailVerificationToken
