from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import delete, or_, select, update

from auth_service.models import RefreshToken
from common.db import Repository


class RefreshTokenRepository(Repository[RefreshToken]):
    model = RefreshToken

    async def owner(self, token_hash: str) -> uuid.UUID | None:
        """The account a token belongs to, read without a lock: the caller locks the account's
        row first (`users.lock`), then the token's (`get_by_hash_for_update`)."""
        return await self.session.scalar(
            select(RefreshToken.user_id).where(RefreshToken.token_hash == token_hash)
        )

    async def get_by_hash_for_update(self, token_hash: str) -> RefreshToken | None:
        """Locks the row, so two concurrent uses of one token are serialised: the second sees
        the first's rotation and is treated as reuse. Read afresh, whatever the session holds."""
        return await self.session.scalar(
            select(RefreshToken)
            .where(RefreshToken.token_hash == token_hash)
            .with_for_update()
            .execution_options(populate_existing=True)
        )

    async def revoke_family(self, family_id: uuid.UUID, *, at: datetime) -> None:
        await self.session.execute(
            update(RefreshToken)
            .where(RefreshToken.family_id == family_id, RefreshToken.revoked_at.is_(None))
            .values(revoked_at=at)
        )

    async def revoke_for_user(
        self,
        user_id: uuid.UUID,
        *,
        at: datetime,
        keep_family: uuid.UUID | None = None,
    ) -> set[uuid.UUID]:
        """Revoke the account's sessions (all, or all but `keep_family`); returns the families
        that were live."""
        statement = update(RefreshToken).where(
            RefreshToken.user_id == user_id, RefreshToken.revoked_at.is_(None)
        )
        if keep_family is not None:
            statement = statement.where(RefreshToken.family_id != keep_family)
        result = await self.session.scalars(
            statement.values(revoked_at=at).returning(RefreshToken.family_id)
        )
        return set(result)

    async def delete_dead(self, *, cutoff: datetime) -> int:
        """Delete the tokens of sessions that expired or were revoked before `cutoff`; none of
        them can ever be accepted again. Returns how many went."""
        result = await self.session.execute(
            delete(RefreshToken).where(
                or_(RefreshToken.expires_at < cutoff, RefreshToken.revoked_at < cutoff)
            )
        )
        return int(result.rowcount or 0)  # type: ignore[attr-defined]
