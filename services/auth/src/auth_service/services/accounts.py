"""A user's own account: registration, profile, password change."""

from __future__ import annotations

import uuid
from typing import Any

from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession

from auth_service import crud
from auth_service.audit import Action, recorder, user_actor, user_resource
from auth_service.exceptions import AccountInactive, EmailTaken, IncorrectPassword, LoginThrottled
from auth_service.models import User
from auth_service.permissions import DEFAULT_ROLE
from auth_service.schemas import MeUpdate, PasswordChangeRequest, RegisterRequest
from auth_service.services.attempts import AddressLimit, LoginAttempts
from auth_service.services.passwords import PasswordHasher, PasswordPolicy
from auth_service.services.revocations import AccessRevocations
from common.client import ClientInfo
from common.db import utcnow
from common.errors import RateLimited


async def read_profile(engine: AsyncEngine, user_id: uuid.UUID | None) -> dict[str, Any]:
    """The caller's profile (one statement, no transaction: the hot path of `GET /auth/me`),
    refused if the account was deleted or deactivated since the token was issued."""
    profile = await crud.users.profile(engine, user_id) if user_id else None
    if profile is None or not profile["is_active"]:
        raise AccountInactive
    return profile


class AccountService:
    def __init__(
        self,
        session: AsyncSession,
        *,
        hasher: PasswordHasher,
        policy: PasswordPolicy,
        attempts: LoginAttempts,
        registrations: AddressLimit,
        revocations: AccessRevocations,
    ) -> None:
        self.session = session
        self.hasher = hasher
        self.policy = policy
        self.attempts = attempts
        self.registrations = registrations
        self.revocations = revocations

    async def register(self, *, data: RegisterRequest, client: ClientInfo) -> User:
        refused = await self.registrations.reserve(client)
        if refused is not None:
            raise RateLimited(retry_after=refused.retry_after)
        self.policy.check(data.password, email=data.email)
        if await crud.users.get_by_email(self.session, data.email) is not None:
            raise EmailTaken
        default_role = await crud.roles.get_by_name(self.session, DEFAULT_ROLE)
        await self.session.commit()  # release the connection while hashing
        password_hash = await self.hasher.hash(data.password)
        user = User(
            id=uuid.uuid4(),
            email=data.email,
            full_name=data.full_name,
            password_hash=password_hash,
            roles=[default_role] if default_role is not None else [],
        )
        self.session.add(user)
        recorder.record(
            self.session,
            action=Action.USER_REGISTERED,
            actor=user_actor(user.id, client),
            resource=user_resource(user.id),
        )
        try:
            await self.session.commit()
        except IntegrityError as exc:  # a concurrent registration won the race
            await self.session.rollback()
            raise EmailTaken from exc
        return user

    async def get_active(self, user_id: uuid.UUID | None) -> User:
        """The caller's account, refused if it was deleted or deactivated since the token was
        issued."""
        user = await crud.users.get_with_roles(self.session, user_id) if user_id else None
        if user is None or not user.is_active:
            raise AccountInactive
        return user

    async def update_profile(
        self, user_id: uuid.UUID | None, *, data: MeUpdate, client: ClientInfo
    ) -> User:
        user = await self.get_active(user_id)
        await crud.users.update(self.session, obj=user, data=data)
        recorder.record(
            self.session,
            action=Action.PROFILE_UPDATED,
            actor=user_actor(user.id, client),
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
        client: ClientInfo,
    ) -> None:
        """Verifies the current password (throttled like a login), then revokes every other
        session of the account; the session that made the change stays signed in."""
        user = await self.get_active(user_id)
        await self.session.commit()
        refused = await self.attempts.reserve(user.email, client)
        if refused is not None:
            raise LoginThrottled(retry_after=refused.retry_after)
        if not await self.hasher.verify(user.password_hash, data.current_password):
            recorder.record(
                self.session,
                action=Action.PASSWORD_CHANGED,
                outcome="failure",
                actor=user_actor(user.id, client),
                resource=user_resource(user.id),
                metadata={"reason": "incorrect_current_password"},
            )
            await self.session.commit()
            raise IncorrectPassword
        await self.attempts.succeeded(user.email, client)
        self.policy.check(data.new_password, email=user.email)
        new_hash = await self.hasher.hash(data.new_password)
        # The account's row is locked from here to the commit (refreshes and other revocations
        # wait); a password changed by someone else since it was verified above is a conflict
        # with that change, answered like a wrong current password.
        verified_hash = user.password_hash
        user = await crud.users.get_for_update(self.session, user.id) or user
        if user.password_hash != verified_hash or not user.is_active:
            raise IncorrectPassword
        user.password_hash = new_hash
        user.password_changed_at = now = utcnow()
        keep = _parse_uuid(session_id)
        ended = await crud.refresh_tokens.revoke_for_user(
            self.session, user.id, at=now, keep_family=keep
        )
        self.revocations.sessions(self.session, ended, at=now)
        # A reset link mailed before the change must not undo it.
        await crud.reset_tokens.use_all_for_user(self.session, user.id, at=now)
        recorder.record(
            self.session,
            action=Action.PASSWORD_CHANGED,
            actor=user_actor(user.id, client),
            resource=user_resource(user.id),
            metadata={"other_sessions_revoked": True},
        )
        await self.session.commit()


def _parse_uuid(value: str | None) -> uuid.UUID | None:
    try:
        return uuid.UUID(value) if value else None
    except ValueError:
        return None
