"""One-time tokens mailed to the owner of an address (password reset, e-mail verification):
issued hashed, redeemed once, under the account's row lock."""

from __future__ import annotations

from datetime import timedelta
from typing import Generic

from auth_service.crud import UserRepository
from auth_service.crud.one_time_token import OneTimeTokenRepository, TokenT
from auth_service.models import User
from auth_service.services.tokens import new_opaque_token
from common.db import utcnow


class MailedTokens(Generic[TokenT]):
    def __init__(self, tokens: OneTimeTokenRepository[TokenT], users: UserRepository) -> None:
        self.tokens: OneTimeTokenRepository[TokenT] = tokens
        self.users = users

    def issue(self, user: User, *, ttl_seconds: int) -> str:
        """Add a new token of `user` (the caller commits); returns the token."""
        token, token_hash = new_opaque_token()
        self.tokens.add(
            self.tokens.model(
                token_hash=token_hash,
                user_id=user.id,
                expires_at=utcnow() + timedelta(seconds=ttl_seconds),
            )
        )
        return token

    async def usable(self, token_hash: str, *, lock: bool = False) -> User | None:
        """The active account the token may act for now (unused, unexpired). With `lock`, the
        account's row is locked first, then the token's, so the answer holds until commit."""
        owner = await self.tokens.owner(token_hash)
        if owner is None:
            return None
        user = await self.users.get_for_update(owner) if lock else await self.users.get(owner)
        token = await self.tokens.get_by_hash(token_hash, for_update=lock)
        if (
            token is None
            or token.used_at is not None
            or token.expires_at <= utcnow()
            or user is None
            or not user.is_active
        ):
            return None
        return user
