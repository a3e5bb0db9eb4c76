"""Role administration and the permission catalog.

Like user administration, every operation authorizes the caller from the database; writes lock
the caller's row and the role's row first. The seeded roles (`user`, `admin`) are edited only by
a super_admin: they are what every account and every administrator holds.
"""

from __future__ import annotations

import uuid

from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from auth_service.audit import Action, recorder, role_resource
from auth_service.crud import PermissionRepository, RoleRepository
from auth_service.exceptions import (
    PrivilegeEscalation,
    RoleInUse,
    RoleNameTaken,
    RoleNotFound,
    SystemRoleProtected,
    UnknownPermission,
)
from auth_service.models import Permission, Role
from auth_service.schemas import RoleCreate, RoleUpdate
from auth_service.services.authorization import Authorizer, ensure_holds
from auth_service.services.revocations import AccessRevocations
from common.audit import principal_actor
from common.db import Page, PageParams, utcnow
from common.permissions import SUPER_ADMIN
from common.permissions.auth import ROLES_READ, ROLES_WRITE
from common.security import Principal


class RoleService:
    def __init__(self, session: AsyncSession, *, revocations: AccessRevocations) -> None:
        self.session = session
        self.revocations = revocations
        self.authorizer = Authorizer(session)
        self.roles = RoleRepository(session)
        self.catalog = PermissionRepository(session)

    async def page(self, *, principal: Principal, params: PageParams) -> Page[Role]:
        await self.authorizer.current(principal, ROLES_READ)
        return await self.roles.page(params=params)

    async def permissions(self, *, principal: Principal, params: PageParams) -> Page[Permission]:
        await self.authorizer.current(principal, ROLES_READ)
        return await self.catalog.page(params=params)

    async def get(self, role_id: uuid.UUID, *, principal: Principal) -> Role:
        await self.authorizer.current(principal, ROLES_READ)
        return await self._get(role_id)

    async def _get(self, role_id: uuid.UUID, *, for_update: bool = False) -> Role:
        role = await self.roles.get_with_permissions(role_id, for_update=for_update)
        if role is None:
            raise RoleNotFound
        return role

    async def _authorize_write(self, principal: Principal) -> Principal:
        return await self.authorizer.lock_and_check(principal, ROLES_WRITE)

    async def create(self, *, data: RoleCreate, principal: Principal) -> Role:
        actor = await self._authorize_write(principal)
        permissions = await self._permissions(data.permissions)
        ensure_holds(actor, data.permissions)
        role = Role(
            id=uuid.uuid4(), name=data.name, description=data.description, permissions=permissions
        )
        self.roles.add(role)
        recorder.record(
            self.session,
            action=Action.ROLE_CREATED,
            actor=principal_actor(actor),
            resource=role_resource(role.id),
            metadata={"name": role.name, "permissions": [p.name for p in permissions]},
        )
        await self._commit_unique_name()
        return role

    async def update(self, role_id: uuid.UUID, *, data: RoleUpdate, principal: Principal) -> Role:
        actor = await self._authorize_write(principal)
        role = await self._get(role_id, for_update=True)
        if role.name == SUPER_ADMIN:
            raise SystemRoleProtected
        if role.is_system and SUPER_ADMIN not in actor.roles:
            raise PrivilegeEscalation("Only a super_admin can edit a seeded role.")
        if data.name is not None and data.name != role.name and role.is_system:
            raise SystemRoleProtected
        # Editing a role means granting and revoking its rights: hold them all, old and new.
        before = {p.name for p in role.permissions}
        old_name = role.name
        ensure_holds(actor, before)
        if data.permissions is not None:
            permissions = await self._permissions(data.permissions)
            ensure_holds(actor, data.permissions)
            role.permissions = permissions
        if data.name is not None:
            role.name = data.name
        if data.description is not None:
            role.description = data.description
        role.updated_at = utcnow()
        after = {p.name for p in role.permissions}
        if before - after or role.name != old_name:
            # Tokens carry the role by the name it had when they were issued: they claim what
            # it no longer grants, or a role that no longer exists under that name.
            self.revocations.role(self.session, old_name, at=role.updated_at)
        recorder.record(
            self.session,
            action=Action.ROLE_UPDATED,
            actor=principal_actor(actor),
            resource=role_resource(role.id),
            metadata={
                "name": role.name,
                "fields": sorted(data.model_fields_set),
                "permissions_added": sorted(after - before),
                "permissions_removed": sorted(before - after),
            },
        )
        await self._commit_unique_name()
        return role

    async def delete(self, role_id: uuid.UUID, *, principal: Principal) -> None:
        actor = await self._authorize_write(principal)
        role = await self._get(role_id, for_update=True)
        if role.is_system:
            raise SystemRoleProtected
        ensure_holds(actor, [p.name for p in role.permissions])
        if await self.roles.count_users(role.id):
            raise RoleInUse
        await self.roles.delete(role)
        recorder.record(
            self.session,
            action=Action.ROLE_DELETED,
            actor=principal_actor(actor),
            resource=role_resource(role.id),
            metadata={"name": role.name, "permissions": sorted(p.name for p in role.permissions)},
        )
        await self.session.commit()

    async def _permissions(self, names: list[str]) -> list[Permission]:
        found = await self.catalog.get_by_names(set(names))
        unknown = sorted(set(names) - {p.name for p in found})
        if unknown:
            raise UnknownPermission(details={"unknown_permissions": unknown})
        return sorted(found, key=lambda p: p.name)

    async def _commit_unique_name(self) -> None:
        try:
            await self.session.commit()
        except IntegrityError as exc:
            await self.session.rollback()
            raise RoleNameTaken from exc
