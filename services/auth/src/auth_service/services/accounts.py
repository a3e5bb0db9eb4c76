"""A user's own account: profile, password change (registration is `services/registration.py`)."""

from __future__ import annotations

import uuid

from sqlalchemy.ext.asyncio import AsyncSession

from auth_service.audit import Action, recorder, user_resource
from auth_service.crud import (
    RefreshTokenRepository,
    ResetTokenRepository,
    UserRepository,
)
from auth_service.exceptions import AccountInactive, HashingBusy, IncorrectPassword, LoginThrottled
from auth_service.models import User
from auth_service.schemas import MeUpdate, PasswordChangeRequest
from auth_service.services.attempts import LoginAttempts
from auth_service.services.passwords import PasswordHasher, PasswordPolicy
from auth_service.services.revocations import AccessRevocations
from common.audit import user_actor
from common.db import utcnow


class AccountService:
    def __init__(
        self,
        session: AsyncSession,
        *,
        hasher: PasswordHasher,
        policy: PasswordPolicy,
        attempts: LoginAttempts,
        revocations: AccessRevocations,
    ) -> None:
        self.session = session
        self.hasher = hasher
        self.policy = policy
        self.attempts = attempts
        self.revocations = revocations
        self.users = UserRepository(session)
        self.refresh_tokens = RefreshTokenRepository(session)
        self.reset_tokens = ResetTokenRepository(session)

    async def get_active(self, user_id: uuid.UUID | None) -> User:
        """The caller's account, refused if it was deleted or deactivated since the token was
        issued."""
        user = await self.users.get_with_roles(user_id) if user_id else None
        if user is None or not user.is_active:
            raise AccountInactive
        return user

    async def update_profile(self, user_id: uuid.UUID | None, *, data: MeUpdate) -> User:
        user = await self.get_active(user_id)
        await self.users.update(user, data.model_dump(exclude_unset=True))
        recorder.record(
            self.session,
            action=Action.PROFILE_UPDATED,
            actor=user_actor(user.id),
            resource=user_resource(user.id),
            metadata={"fields": sorted(data.model_fields_set)},
        )
        await self.session.commit()
        return user

    async def change_password(
        self,
        user_id: uuid.UUID | None,
        *,
        data: PasswordChangeRequest,
        session_id: str | None,
    ) -> None:
        """Verifies the current password (throttled like a login), then revokes every other
        session of the account; the session that made the change stays signed in."""
        user = await self.get_active(user_id)
        await self.session.commit()
        refused = await self.attempts.reserve(user.email)
        if refused is not None:
            raise LoginThrottled(retry_after=refused.retry_after)
        try:
            matches = await self.hasher.verify(user.password_hash, data.current_password)
        except HashingBusy:
            await self.attempts.cancel(user.email)
            raise
        if not matches:
            recorder.record(
                self.session,
                action=Action.PASSWORD_CHANGED,
                outcome="failure",
                actor=user_actor(user.id),
                resource=user_resource(user.id),
                metadata={"reason": "incorrect_current_password"},
            )
            await self.session.commit()
            raise IncorrectPassword
        await self.attempts.succeeded(user.email)
        self.policy.check(data.new_password, email=user.email)
        new_hash = await self.hasher.hash(data.new_password)
        # The account's row is locked from here to the commit (refreshes and other revocations
        # wait); a password changed by someone else since it was verified above is a conflict
        # with that change, answered like a wrong current password.
        verified_hash = user.password_hash
        user = await self.users.get_for_update(user.id) or user
        if user.password_hash != verified_hash or not user.is_active:
            raise IncorrectPassword
        user.password_hash = new_hash
        user.password_changed_at = now = utcnow()
        keep = _parse_uuid(session_id)
        ended = await self.refresh_tokens.revoke_for_user(user.id, at=now, keep_family=keep)
        self.revocations.sessions(self.session, ended, at=now)
        # A reset link mailed before the change must not undo it.
        await self.reset_tokens.use_all_for_user(user.id, at=now)
        recorder.record(
            self.session,
            action=Action.PASSWORD_CHANGED,
            actor=user_actor(user.id),
            resource=user_resource(user.id),
            metadata={"other_sessions_revoked": True},
        )
        await self.session.commit()


def _parse_uuid(value: str | None) -> uuid.UUID | None:
    try:
        return uuid.UUID(value) if value else None
    except ValueError:
        return None
