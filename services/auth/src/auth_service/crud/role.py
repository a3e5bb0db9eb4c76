from __future__ import annotations

import uuid
from collections.abc import Collection

from pydantic import BaseModel
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import selectinload

from auth_service.models import Permission, Role, user_role
from common.db import CRUDBase, Page, PageParams, paginate


class RoleCRUD(CRUDBase[Role, BaseModel, BaseModel]):
    async def get_with_permissions(
        self, session: AsyncSession, role_id: uuid.UUID, *, for_update: bool = False
    ) -> Role | None:
        statement = select(Role).where(Role.id == role_id).options(selectinload(Role.permissions))
        if for_update:
            statement = statement.with_for_update(of=Role)
        return await session.scalar(statement)

    async def get_by_name(self, session: AsyncSession, name: str) -> Role | None:
        return await session.scalar(
            select(Role).where(Role.name == name).options(selectinload(Role.permissions))
        )

    async def get_by_names(self, session: AsyncSession, names: Collection[str]) -> list[Role]:
        rows = await session.scalars(
            select(Role).where(Role.name.in_(names)).options(selectinload(Role.permissions))
        )
        return list(rows)

    async def page(self, session: AsyncSession, *, params: PageParams) -> Page[Role]:
        statement = select(Role).options(selectinload(Role.permissions))
        return await paginate(
            session, statement, order_by=[Role.name], params=params, descending=False
        )

    async def count_users(self, session: AsyncSession, role_id: uuid.UUID) -> int:
        statement = (
            select(func.count()).select_from(user_role).where(user_role.c.role_id == role_id)
        )
        return int(await session.scalar(statement) or 0)


class PermissionCRUD(CRUDBase[Permission, BaseModel, BaseModel]):
    async def get_by_names(self, session: AsyncSession, names: Collection[str]) -> list[Permission]:
        return list(await session.scalars(select(Permission).where(Permission.name.in_(names))))

    async def page(self, session: AsyncSession, *, params: PageParams) -> Page[Permission]:
        return await paginate(
            session,
            select(Permission),
            order_by=[Permission.name],
            params=params,
            descending=False,
        )


roles = RoleCRUD(Role)
permissions = PermissionCRUD(Permission)
