from __future__ import annotations

import uuid

from sqlalchemy import Select, func, or_, select
from sqlalchemy.orm import selectinload

from auth_service.models import Role, User, role_permission, user_role
from common.db import Page, PageParams, Repository, paginate


def _escape_like(text: str) -> str:
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


# Correlated `ARRAY(SELECT ...)` columns: a user's role names and the union of their roles'
# permissions, both sorted, read in the same statement as the user row.
ROLE_NAMES = func.array(
    select(Role.name)
    .join(user_role, user_role.c.role_id == Role.id)
    .where(user_role.c.user_id == User.id)
    .order_by(Role.name)
    .scalar_subquery()
)
PERMISSION_NAMES = func.array(
    select(role_permission.c.permission_name)
    .join(user_role, user_role.c.role_id == role_permission.c.role_id)
    .where(user_role.c.user_id == User.id)
    .group_by(role_permission.c.permission_name)
    .order_by(role_permission.c.permission_name)
    .scalar_subquery()
)


class UserRepository(Repository[User]):
    model = User

    async def get_by_email(self, email: str) -> User | None:
        return await self.session.scalar(select(User).where(User.email == email))

    async def get_for_update(self, user_id: uuid.UUID) -> User | None:
        """The account, its row locked (see `lock`) and read afresh."""
        return await self.session.scalar(
            select(User)
            .where(User.id == user_id)
            .with_for_update()
            .execution_options(populate_existing=True)
        )

    async def get_with_roles(
        self,
        user_id: uuid.UUID,
        *,
        for_update: bool = False,
        with_permissions: bool = False,
    ) -> User | None:
        roles = selectinload(User.roles)
        if with_permissions:
            roles = roles.selectinload(Role.permissions)
        statement = select(User).where(User.id == user_id).options(roles)
        if for_update:
            statement = statement.with_for_update(of=User).execution_options(populate_existing=True)
        return await self.session.scalar(statement)

    async def search(
        self,
        *,
        params: PageParams,
        query: str | None = None,
        is_active: bool | None = None,
        role: str | None = None,
    ) -> Page[User]:
        statement: Select[User] = select(User).options(selectinload(User.roles))
        if query:
            pattern = f"%{_escape_like(query.lower())}%"
            statement = statement.where(
                or_(
                    User.email.like(pattern, escape="\\"),
                    func.lower(User.full_name).like(pattern, escape="\\"),
                )
            )
        if is_active is not None:
            statement = statement.where(User.is_active.is_(is_active))
        if role is not None:
            statement = statement.where(User.roles.any(Role.name == role))
        return await paginate(
            self.session, statement, order_by=[User.created_at, User.id], params=params
        )

    async def lock(self, *user_ids: uuid.UUID) -> None:
        """Lock the accounts' rows until the transaction ends, in id order.

        The user row is the mutex of everything that changes an account's sessions or rights
        (refresh, sign-out, password change and reset, deactivation, role changes): one lock,
        always taken first and always in the same order, so a refresh cannot slip a new token
        past a revocation and two administrators acting on each other cannot deadlock.
        """
        await self.session.execute(
            select(User.id)
            .where(User.id.in_(sorted(set(user_ids))))
            .order_by(User.id)
            .with_for_update()
        )

    async def authority(self, user_id: uuid.UUID) -> tuple[bool, list[str], list[str]] | None:
        """(is active, role names, permissions) as committed now; None if there is no such
        account."""
        row = (
            await self.session.execute(
                select(User.is_active, ROLE_NAMES, PERMISSION_NAMES).where(User.id == user_id)
            )
        ).first()
        return (bool(row[0]), list(row[1]), list(row[2])) if row is not None else None

    async def count_active_with_role(
        self, role_name: str, *, excluding: uuid.UUID | None = None
    ) -> int:
        statement = (
            select(func.count())
            .select_from(User)
            .where(User.is_active.is_(True), User.roles.any(Role.name == role_name))
        )
        if excluding is not None:
            statement = statement.where(User.id != excluding)
        return int(await self.session.scalar(statement) or 0)
