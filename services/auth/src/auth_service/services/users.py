"""Administration of user accounts: search, read, change, deactivate, assign roles.

Every operation authorizes the caller from the database (`Authorizer`), not from the
token's claims. Writes first lock the caller's and the target's rows, in id order, and read the
caller's rights after that: two administrators acting on each other are serialised, and the
second sees what the first did (a demoted super_admin cannot demote the one who demoted them).
"""

from __future__ import annotations

import uuid

from sqlalchemy.ext.asyncio import AsyncSession

from auth_service.audit import Action, recorder, user_resource
from auth_service.crud import RefreshTokenRepository, RoleRepository, UserRepository
from auth_service.exceptions import LastSuperAdmin, PrivilegeEscalation, UnknownRole, UserNotFound
from auth_service.models import User
from auth_service.schemas import UserAdminUpdate
from auth_service.services.authorization import (
    Authorizer,
    ensure_can_handle_roles,
    ensure_not_self,
)
from auth_service.services.revocations import AccessRevocations
from common.audit import principal_actor
from common.db import Page, PageParams, utcnow
from common.permissions import SUPER_ADMIN
from common.permissions.auth import USERS_READ, USERS_WRITE
from common.security import Principal


class UserAdminService:
    def __init__(self, session: AsyncSession, *, revocations: AccessRevocations) -> None:
        self.session = session
        self.revocations = revocations
        self.authorizer = Authorizer(session)
        self.users = UserRepository(session)
        self.roles = RoleRepository(session)
        self.refresh_tokens = RefreshTokenRepository(session)

    async def search(
        self,
        *,
        principal: Principal,
        params: PageParams,
        query: str | None,
        is_active: bool | None,
        role: str | None,
    ) -> Page[User]:
        await self.authorizer.current(principal, USERS_READ)
        return await self.users.search(params=params, query=query, is_active=is_active, role=role)

    async def get(self, user_id: uuid.UUID, *, principal: Principal) -> User:
        await self.authorizer.current(principal, USERS_READ)
        return await self._get(user_id)

    async def _get(self, user_id: uuid.UUID, *, for_update: bool = False) -> User:
        user = await self.users.get_with_roles(
            user_id, for_update=for_update, with_permissions=for_update
        )
        if user is None:
            raise UserNotFound
        return user

    async def _authorize_write(
        self, principal: Principal, target_id: uuid.UUID, *, touches_rights: bool = True
    ) -> Principal:
        """Lock the caller's and the target's rows, then read the caller's rights."""
        if touches_rights:
            ensure_not_self(principal, target_id)
        return await self.authorizer.lock_and_check(principal, USERS_WRITE, also=[target_id])

    async def update(
        self,
        user_id: uuid.UUID,
        *,
        data: UserAdminUpdate,
        principal: Principal,
    ) -> User:
        changes = data.model_dump(exclude_unset=True)
        actor = await self._authorize_write(
            principal, user_id, touches_rights="is_active" in changes
        )
        user = await self._get(user_id, for_update=True)
        if _is_super_admin(user) and SUPER_ADMIN not in actor.roles:
            raise PrivilegeEscalation("Only a super_admin can change a super_admin's account.")
        action = Action.USER_UPDATED
        if changes.get("is_active") is False and user.is_active:
            if _is_super_admin(user) and not await self._other_super_admins(user.id):
                raise LastSuperAdmin
            # A deactivated account keeps no session and no valid access token.
            now = utcnow()
            await self.refresh_tokens.revoke_for_user(user.id, at=now)
            self.revocations.account(self.session, user.id, at=now)
            action = Action.USER_DEACTIVATED
        elif changes.get("is_active") is True and not user.is_active:
            action = Action.USER_REACTIVATED
        await self.users.update(user, changes)
        recorder.record(
            self.session,
            action=action,
            actor=principal_actor(actor),
            resource=user_resource(user.id),
            metadata={"fields": sorted(changes)},
        )
        await self.session.commit()
        return user

    async def set_roles(
        self,
        user_id: uuid.UUID,
        *,
        role_names: list[str],
        principal: Principal,
    ) -> User:
        actor = await self._authorize_write(principal, user_id)
        user = await self._get(user_id, for_update=True)
        wanted = await self.roles.get_by_names(set(role_names))
        unknown = sorted(set(role_names) - {r.name for r in wanted})
        if unknown:
            raise UnknownRole(details={"unknown_roles": unknown})
        current = {r.name: r for r in user.roles}
        target = {r.name: r for r in wanted}
        changed = [target[n] for n in target.keys() - current.keys()]
        changed += [current[n] for n in current.keys() - target.keys()]
        if _is_super_admin(user) and changed and SUPER_ADMIN not in actor.roles:
            raise PrivilegeEscalation("Only a super_admin can change a super_admin's account.")
        ensure_can_handle_roles(actor, changed)
        if (
            SUPER_ADMIN in current
            and SUPER_ADMIN not in target
            and user.is_active
            and not await self._other_super_admins(user.id)
        ):
            raise LastSuperAdmin
        user.roles = sorted(wanted, key=lambda r: r.name)
        user.updated_at = utcnow()
        if current.keys() - target.keys():
            # The access tokens the account holds claim the rights it just lost; its sessions
            # stay, and their next refresh carries the new roles.
            self.revocations.account(self.session, user.id, at=user.updated_at)
        recorder.record(
            self.session,
            action=Action.USER_ROLES_CHANGED,
            actor=principal_actor(actor),
            resource=user_resource(user.id),
            metadata={
                "added": sorted(target.keys() - current.keys()),
                "removed": sorted(current.keys() - target.keys()),
            },
        )
        await self.session.commit()
        return user

    async def _other_super_admins(self, user_id: uuid.UUID) -> bool:
        """Kept although the rules above make it unreachable through the API (the actor of a
        super_admin's removal is another active super_admin, locked until commit): the
        invariant must not rest on a chain of other checks."""
        count = await self.users.count_active_with_role(SUPER_ADMIN, excluding=user_id)
        return count > 0


def _is_super_admin(user: User) -> bool:
    return any(r.name == SUPER_ADMIN for r in user.roles)
