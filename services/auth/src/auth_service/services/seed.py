"""Idempotent seeding of the permission catalog and the system roles. Runs at every start (under
an advisory lock, so replicas may start together) and from `make seed`.

Permissions and super_admin follow the catalog in code on every run. The other system roles get
their seeded permissions when they are first created; later edits by administrators are kept.
"""

from __future__ import annotations

import uuid

from sqlalchemy.ext.asyncio import AsyncSession

from auth_service.crud import PermissionRepository, RoleRepository
from common.permissions import CATALOG, SUPER_ADMIN, SYSTEM_ROLES


class SeedService:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session
        self.roles = RoleRepository(session)
        self.catalog = PermissionRepository(session)

    async def seed(self) -> None:
        await self.roles.lock_for_seeding()
        await self.catalog.upsert(CATALOG)
        existing = await self.roles.names_among(SYSTEM_ROLES)
        for name, (description, permissions) in SYSTEM_ROLES.items():
            role_id: uuid.UUID | None
            if name not in existing:
                role_id = await self.roles.insert_system_role(name, description)
            elif name == SUPER_ADMIN:
                role_id = await self.roles.id_of(name)
            else:
                continue
            await self.roles.grant(role_id, sorted(permissions))
        await self.session.commit()
