"""Clearing out tokens that can never be accepted again (the beat runs it hourly)."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy.ext.asyncio import AsyncSession

from auth_service.crud import (
    RefreshTokenRepository,
    ResetTokenRepository,
    VerificationTokenRepository,
)
from common.db import utcnow

GRACE = timedelta(days=1)


class TokenPurge:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session
        self.refresh_tokens = RefreshTokenRepository(session)
        self.reset_tokens = ResetTokenRepository(session)
        self.verification_tokens = VerificationTokenRepository(session)

    async def purge(self) -> int:
        """Delete refresh tokens whose session expired or was revoked more than a day ago, and
        mailed tokens a day past their expiry; returns how many went."""
        cutoff = utcnow() - GRACE
        removed = await self.refresh_tokens.delete_dead(cutoff=cutoff)
        removed += await self.reset_tokens.delete_expired(cutoff=cutoff)
        removed += await self.verification_tokens.delete_expired(cutoff=cutoff)
        await self.session.commit()
        return removed
