"""The first administrator, from the CLI (`create-admin`)."""

from __future__ import annotations

import uuid

from sqlalchemy.ext.asyncio import AsyncSession

from auth_service.audit import Action, recorder, user_resource
from auth_service.crud import (
    RefreshTokenRepository,
    ResetTokenRepository,
    RoleRepository,
    UserRepository,
)
from auth_service.exceptions import AccountExists
from auth_service.models import Role, User
from auth_service.services.passwords import PasswordHasher, PasswordPolicy
from auth_service.services.revocations import AccessRevocations
from common.audit import SYSTEM
from common.db import utcnow
from common.permissions import SUPER_ADMIN


class AdminAccounts:
    def __init__(
        self,
        session: AsyncSession,
        *,
        hasher: PasswordHasher,
        policy: PasswordPolicy,
        revocations: AccessRevocations | None = None,
    ) -> None:
        """`revocations`: the running service's; the CLI has none (the outbox row it writes is
        published by the service's relay)."""
        self.session = session
        self.hasher = hasher
        self.policy = policy
        self.revocations = revocations or AccessRevocations()
        self.users = UserRepository(session)
        self.roles = RoleRepository(session)
        self.refresh_tokens = RefreshTokenRepository(session)
        self.reset_tokens = ResetTokenRepository(session)

    async def create(
        self,
        *,
        email: str,
        password: str,
        full_name: str | None = None,
        grant_existing: bool = False,
    ) -> tuple[User, bool]:
        """Create a super_admin. An existing account with the address is refused unless
        `grant_existing`: anyone may have registered it in advance, so granting it is an
        explicit act, and then the operator's password replaces whatever its registrant chose,
        every session and reset link of it ends and its access tokens are revoked. Returns the
        user and whether it was created."""
        email = email.lower()
        self.policy.check(password, email=email)
        super_admin = await self.roles.get_by_name(SUPER_ADMIN)
        if super_admin is None:
            raise RuntimeError("roles are not seeded; run the seed first")
        existing = await self.users.get_by_email(email)
        if existing is not None and not grant_existing:
            raise AccountExists
        password_hash = await self.hasher.hash(password)
        if existing is not None:
            return await self._grant_existing(existing.id, super_admin, password_hash), False
        user = self.users.add(
            User(
                id=uuid.uuid4(),
                email=email,
                full_name=full_name,
                password_hash=password_hash,
                roles=[super_admin],
                email_verified_at=utcnow(),  # the operator vouches for the address
            )
        )
        recorder.record(
            self.session,
            action=Action.USER_REGISTERED,
            actor=SYSTEM,
            resource=user_resource(user.id),
            metadata={"roles": [SUPER_ADMIN], "via": "cli"},
        )
        await self.session.commit()
        return user, True

    async def _grant_existing(
        self, user_id: uuid.UUID, super_admin: Role, password_hash: str
    ) -> User:
        await self.users.lock(user_id)
        user = await self.users.get_with_roles(user_id, for_update=True)
        if user is None:
            raise AccountExists  # deleted meanwhile: let the operator run the command again
        now = utcnow()
        added = [] if any(r.name == SUPER_ADMIN for r in user.roles) else [SUPER_ADMIN]
        if added:
            user.roles = [*user.roles, super_admin]
        user.password_hash = password_hash
        user.password_changed_at = now
        reactivated = not user.is_active
        user.is_active = True
        user.email_verified_at = user.email_verified_at or now
        user.updated_at = now
        await self.refresh_tokens.revoke_for_user(user.id, at=now)
        await self.reset_tokens.use_all_for_user(user.id, at=now)
        self.revocations.account(self.session, user.id, at=now)
        recorder.record(
            self.session,
            action=Action.USER_ROLES_CHANGED,
            actor=SYSTEM,
            resource=user_resource(user.id),
            metadata={
                "added": added,
                "removed": [],
                "via": "cli",
                "password_replaced": True,
                "all_sessions_revoked": True,
                "reactivated": reactivated,
            },
        )
        await self.session.commit()
        return user
