from __future__ import annotations

import uuid
from datetime import datetime

from pydantic import BaseModel
from sqlalchemy import bindparam, func, insert, select, update
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession

from auth_service.models import AuditOutbox, RefreshToken, User
from common.audit import AuditEvent
from common.db import CompiledQuery, CRUDBase

# A login's whole write in one statement, so it is atomic without a transaction and costs one
# round trip: stamp the login (and store a re-hash, when there is one) on the account if it is
# still active and its password is still the one just verified, record the audit event and
# start the session's refresh-token family. No row back means the account was deactivated,
# deleted or given a new password between the password check and now (and then neither the
# event nor the token exists). The UPDATE locks the account's row, so the statement is ordered
# with every revocation (they lock it first too).
_stamped = (
    update(User)
    .where(
        User.id == bindparam("user_id"),
        User.is_active.is_(True),
        User.password_hash == bindparam("verified_hash", type_=User.password_hash.type),
    )
    .values(
        last_login_at=bindparam("at"),
        password_hash=func.coalesce(
            bindparam("new_password_hash", type_=User.password_hash.type), User.password_hash
        ),
        updated_at=User.updated_at,
    )
    .returning(User.id)
    .cte("stamped")
)
_audited = (
    insert(AuditOutbox)
    .from_select(
        ["event_id", "payload"],
        select(
            bindparam("event_id", type_=AuditOutbox.event_id.type),
            bindparam("event_payload", type_=AuditOutbox.payload.type),
        ).select_from(_stamped),
    )
    .returning(AuditOutbox.id)
    .cte("audited")
)
_START_FAMILY = CompiledQuery(
    insert(RefreshToken)
    .from_select(
        ["id", "token_hash", "user_id", "family_id", "created_at", "expires_at"],
        select(
            bindparam("token_id", type_=RefreshToken.id.type),
            bindparam("token_hash", type_=RefreshToken.token_hash.type),
            _stamped.c.id,
            bindparam("family_id", type_=RefreshToken.family_id.type),
            bindparam("at", type_=RefreshToken.created_at.type),
            bindparam("expires_at", type_=RefreshToken.expires_at.type),
        ),
    )
    .add_cte(_stamped, _audited)
    .returning(RefreshToken.id)
)


class RefreshTokenCRUD(CRUDBase[RefreshToken, BaseModel, BaseModel]):
    async def start_family(
        self,
        engine: AsyncEngine,
        *,
        user_id: uuid.UUID,
        family_id: uuid.UUID,
        token_hash: str,
        at: datetime,
        expires_at: datetime,
        verified_hash: str,
        new_password_hash: str | None,
        event: AuditEvent,
    ) -> bool:
        """Record a login, its audit event and its first refresh token (see `_START_FAMILY`);
        False if the account is no longer active or no longer has `verified_hash`."""
        row = await _START_FAMILY.fetch_one(
            engine,
            user_id=user_id,
            family_id=family_id,
            token_id=uuid.uuid4(),
            token_hash=token_hash,
            at=at,
            expires_at=expires_at,
            verified_hash=verified_hash,
            new_password_hash=new_password_hash,
            event_id=event.id,
            event_payload=event.to_json(),
        )
        return row is not None

    async def owner(self, session: AsyncSession, token_hash: str) -> uuid.UUID | None:
        """The account a token belongs to, read without a lock: the caller locks the account's
        row first (`users.lock`), then the token's (`get_by_hash_for_update`)."""
        return await session.scalar(
            select(RefreshToken.user_id).where(RefreshToken.token_hash == token_hash)
        )

    async def get_by_hash_for_update(
        self, session: AsyncSession, token_hash: str
    ) -> RefreshToken | None:
        """Locks the row, so two concurrent uses of one token are serialised: the second sees
        the first's rotation and is treated as reuse. Read afresh, whatever the session holds."""
        return await session.scalar(
            select(RefreshToken)
            .where(RefreshToken.token_hash == token_hash)
            .with_for_update()
            .execution_options(populate_existing=True)
        )

    async def revoke_family(
        self, session: AsyncSession, family_id: uuid.UUID, *, at: datetime
    ) -> None:
        await session.execute(
            update(RefreshToken)
            .where(RefreshToken.family_id == family_id, RefreshToken.revoked_at.is_(None))
            .values(revoked_at=at)
        )

    async def revoke_for_user(
        self,
        session: AsyncSession,
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
        result = await session.scalars(
            statement.values(revoked_at=at).returning(RefreshToken.family_id)
        )
        return set(result)


refresh_tokens = RefreshTokenCRUD(RefreshToken)
