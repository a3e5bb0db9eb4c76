from __future__ import annotations

import uuid
from collections.abc import Collection, Mapping

from sqlalchemy import func, select, text
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.orm import selectinload

from auth_service.models import Permission, Role, role_permission, user_role
from common.db import Page, PageParams, Repository, paginate

_SEED_LOCK = text("SELECT pg_advisory_xact_lock(hashtext('auth.seed'))")


class RoleRepository(Repository[Role]):
    model = Role

    async def get_with_permissions(
        self, role_id: uuid.UUID, *, for_update: bool = False
    ) -> Role | None:
        statement = select(Role).where(Role.id == role_id).options(selectinload(Role.permissions))
        if for_update:
            statement = statement.with_for_update(of=Role)
        return await self.session.scalar(statement)

    async def get_by_name(self, name: str) -> Role | None:
        return await self.session.scalar(
            select(Role).where(Role.name == name).options(selectinload(Role.permissions))
        )

    async def get_by_names(self, names: Collection[str]) -> list[Role]:
        rows = await self.session.scalars(
            select(Role).where(Role.name.in_(names)).options(selectinload(Role.permissions))
        )
        return list(rows)

    async def page(self, *, params: PageParams) -> Page[Role]:
        statement = select(Role).options(selectinload(Role.permissions))
        return await paginate(
            self.session, statement, order_by=[Role.name], params=params, descending=False
        )

    async def lock_for_seeding(self) -> None:
        """Serialise seeding across replicas starting together, until the commit."""
        await self.session.execute(_SEED_LOCK)

    async def names_among(self, names: Collection[str]) -> set[str]:
        return set(await self.session.scalars(select(Role.name).where(Role.name.in_(names))))

    async def insert_system_role(self, name: str, description: str) -> uuid.UUID:
        role_id: uuid.UUID | None = await self.session.scalar(
            insert(Role)
            .values(name=name, description=description, is_system=True)
            .returning(Role.id)
        )
        if role_id is None:
            raise RuntimeError(f"role {name} was not inserted")
        return role_id

    async def id_of(self, name: str) -> uuid.UUID | None:
        return await self.session.scalar(select(Role.id).where(Role.name == name))

    async def grant(self, role_id: uuid.UUID | None, permissions: list[str]) -> None:
        """Give the role these permissions (those it has already stay)."""
        if role_id is None or not permissions:
            return
        await self.session.execute(
            insert(role_permission)
            .values([{"role_id": role_id, "permission_name": p} for p in permissions])
            .on_conflict_do_nothing()
        )

    async def count_users(self, role_id: uuid.UUID) -> int:
        statement = (
            select(func.count()).select_from(user_role).where(user_role.c.role_id == role_id)
        )
        return int(await self.session.scalar(statement) or 0)


class PermissionRepository(Repository[Permission]):
    model = Permission

    async def upsert(self, catalog: Mapping[str, str]) -> None:
        """Every permission of the catalog exists, with the catalog's description."""
        statement = insert(Permission).values(
            [{"name": name, "description": description} for name, description in catalog.items()]
        )
        await self.session.execute(
            statement.on_conflict_do_update(
                index_elements=[Permission.name],
                set_={"description": statement.excluded.description},
            )
        )

    async def get_by_names(self, names: Collection[str]) -> list[Permission]:
        return list(
            await self.session.scalars(select(Permission).where(Permission.name.in_(names)))
        )

    async def page(self, *, params: PageParams) -> Page[Permission]:
        return await paginate(
            self.session,
            select(Permission),
            order_by=[Permission.name],
            params=params,
            descending=False,
        )
