"""One-time tokens mailed to the owner of an address (password reset, e-mail verification):
issued hashed, redeemed once, under the account's row lock."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from typing import Generic

from sqlalchemy.ext.asyncio import AsyncSession

from auth_service import crud
from auth_service.crud.one_time_token import OneTimeTokenCRUD, TokenT
from auth_service.models import User
from auth_service.services.tokens import new_opaque_token
from common.db import utcnow


@dataclass(frozen=True, slots=True)
class MailedTokens(Generic[TokenT]):
    tokens: OneTimeTokenCRUD[TokenT]
    ttl_seconds: int

    def issue(self, session: AsyncSession, user: User) -> str:
        """Add a new token of `user` to the session (the caller commits); returns the token."""
        token, token_hash = new_opaque_token()
        session.add(
            self.tokens.model(
                token_hash=token_hash,
                user_id=user.id,
                expires_at=utcnow() + timedelta(seconds=self.ttl_seconds),
            )
        )
        return token

    async def usable(
        self, session: AsyncSession, token_hash: str, *, lock: bool = False
    ) -> User | None:
        """The active account the token may act for now (unused, unexpired). With `lock`, the
        account's row is locked first, then the token's, so the answer holds until commit."""
        owner = await self.tokens.owner(session, token_hash)
        if owner is None:
            return None
        user = (
            await crud.users.get_for_update(session, owner)
            if lock
            else await crud.users.get(session, owner)
        )
        token = await self.tokens.get_by_hash(session, token_hash, for_update=lock)
        if (
            token is None
            or token.used_at is not None
            or token.expires_at <= utcnow()
            or user is None
            or not user.is_active
        ):
            return None
        return user
