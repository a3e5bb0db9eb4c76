"""The account hot path (decision 0007): the reads and the one write that every sign-in and
every `GET /auth/me` makes, compiled once and run on the driver outside any transaction.

This is the measured exception to the repository shape: `AccountHotPath` is built from the
engine, not from a session, and each of its methods is one statement, atomic on its own.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import bindparam, func, insert, select, update
from sqlalchemy.ext.asyncio import AsyncEngine

from auth_service.crud.user import PERMISSION_NAMES, ROLE_NAMES
from auth_service.models import AuditOutbox, RefreshToken, User
from common.audit import AuditEvent
from common.db import CompiledQuery

# The two hottest reads (every /auth/me, every login), compiled once for the driver.
_PROFILE = CompiledQuery(
    select(
        User.id,
        User.email,
        User.email_verified_at.is_not(None).label("email_verified"),
        User.full_name,
        User.is_active,
        User.created_at,
        User.updated_at,
        User.last_login_at,
        ROLE_NAMES.label("roles"),
    ).where(User.id == bindparam("user_id"))
)
_CREDENTIALS = CompiledQuery(
    select(
        User.id,
        User.password_hash,
        User.is_active,
        User.email_verified_at.is_not(None).label("email_verified"),
        ROLE_NAMES.label("roles"),
        PERMISSION_NAMES.label("permissions"),
    ).where(User.email == bindparam("email"))
)

# What an access token says about a user, read afresh just before it is issued.
_CLAIMS = CompiledQuery(
    select(
        User.is_active,
        User.email_verified_at.is_not(None).label("email_verified"),
        ROLE_NAMES.label("roles"),
        PERMISSION_NAMES.label("permissions"),
    ).where(User.id == bindparam("user_id"))
)


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


_RECORD = CompiledQuery(
    insert(AuditOutbox).values(event_id=bindparam("event_id"), payload=bindparam("payload"))
)


@dataclass(frozen=True, slots=True)
class Profile:
    id: uuid.UUID
    email: str
    email_verified: bool
    full_name: str | None
    is_active: bool
    created_at: datetime
    updated_at: datetime
    last_login_at: datetime | None
    roles: list[str]


@dataclass(frozen=True, slots=True)
class Credentials:
    id: uuid.UUID
    password_hash: str
    is_active: bool
    email_verified: bool
    roles: list[str]
    permissions: list[str]


@dataclass(frozen=True, slots=True)
class Claims:
    """What an access token says about its user."""

    is_active: bool
    email_verified: bool
    roles: list[str]
    permissions: list[str]


class AccountHotPath:
    def __init__(self, engine: AsyncEngine) -> None:
        self.engine = engine

    async def profile(self, user_id: uuid.UUID) -> Profile | None:
        """The user's profile with role names (every `GET /auth/me`)."""
        row = await _PROFILE.first_row(self.engine, user_id=user_id)
        return Profile(**row) if row is not None else None

    async def credentials(self, email: str) -> Credentials | None:
        """What a sign-in needs: id, hash, state, verified address, roles, permissions."""
        row = await _CREDENTIALS.first_row(self.engine, email=email)
        return Credentials(**row) if row is not None else None

    async def claims(self, user_id: uuid.UUID) -> Claims | None:
        """Read right before a token is signed."""
        row = await _CLAIMS.first_row(self.engine, user_id=user_id)
        return Claims(**row) if row is not None else None

    async def start_session(
        self,
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
        """Record a sign-in, its audit event and its first refresh token (see `_START_FAMILY`);
        False if the account is no longer active or no longer has `verified_hash`."""
        row = await _START_FAMILY.first_row(
            self.engine,
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

    async def record(self, event: AuditEvent) -> None:
        """An audit event on its own, for a failure that changes nothing else (a wrong
        password): no transaction to record it in."""
        await _RECORD.run(self.engine, event_id=event.id, payload=event.to_json())
