"""Idempotent seeding of the permission catalog and the system roles, and creation of the first
administrator. Runs at every start (under an advisory lock, so replicas may start together)
and from `make seed`.

Permissions and super_admin follow the catalog in code on every run. The other system roles get
their seeded permissions when they are first created; later edits by administrators are kept.
"""

from __future__ import annotations

import uuid

from sqlalchemy import select, text
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from auth_service import crud
from auth_service.audit import Action, recorder, user_resource
from auth_service.exceptions import AccountExists
from auth_service.models import Permission, Role, User, role_permission
from auth_service.permissions import CATALOG, SUPER_ADMIN, SYSTEM_ROLES
from auth_service.services.passwords import PasswordHasher, PasswordPolicy
from auth_service.services.revocations import AccessRevocations
from common.audit import SYSTEM
from common.db import utcnow

_LOCK_SQL = text("SELECT pg_advisory_xact_lock(hashtext('auth.seed'))")


async def seed_rbac(session: AsyncSession) -> None:
    await session.execute(_LOCK_SQL)
    statement = insert(Permission).values(
        [{"name": name, "description": description} for name, description in CATALOG.items()]
    )
    await session.execute(
        statement.on_conflict_do_update(
            index_elements=[Permission.name], set_={"description": statement.excluded.description}
        )
    )
    existing = set(await session.scalars(select(Role.name).where(Role.name.in_(SYSTEM_ROLES))))
    for name, (description, permissions) in SYSTEM_ROLES.items():
        if name not in existing:
            role_id = await session.scalar(
                insert(Role)
                .values(name=name, description=description, is_system=True)
                .returning(Role.id)
            )
        elif name == SUPER_ADMIN:
            role_id = await session.scalar(select(Role.id).where(Role.name == name))
        else:
            continue
        await session.execute(
            insert(role_permission)
            .values([{"role_id": role_id, "permission_name": p} for p in sorted(permissions)])
            .on_conflict_do_nothing()
        )
    await session.commit()


async def create_admin(
    session: AsyncSession,
    *,
    hasher: PasswordHasher,
    policy: PasswordPolicy,
    email: str,
    password: str,
    full_name: str | None = None,
    grant_existing: bool = False,
    revocations: AccessRevocations | None = None,
) -> tuple[User, bool]:
    """Create a super_admin. An existing account with the address is refused unless
    `grant_existing`: anyone may have registered it in advance, so granting it is an explicit
    act, and then the operator's password replaces whatever its registrant chose, every session
    and reset link of it ends and its access tokens are revoked. Returns the user and whether it
    was created."""
    email = email.lower()
    policy.check(password, email=email)
    super_admin = await crud.roles.get_by_name(session, SUPER_ADMIN)
    if super_admin is None:
        raise RuntimeError("roles are not seeded; run the seed first")
    existing = await crud.users.get_by_email(session, email)
    if existing is not None and not grant_existing:
        raise AccountExists
    password_hash = await hasher.hash(password)
    if existing is not None:
        user = await _grant_existing(
            session, existing.id, super_admin, password_hash, revocations or AccessRevocations()
        )
        return user, False
    user = User(
        id=uuid.uuid4(),
        email=email,
        full_name=full_name,
        password_hash=password_hash,
        roles=[super_admin],
        email_verified_at=utcnow(),  # the operator vouches for the address
    )
    session.add(user)
    recorder.record(
        session,
        action=Action.USER_REGISTERED,
        actor=SYSTEM,
        resource=user_resource(user.id),
        metadata={"roles": [SUPER_ADMIN], "via": "cli"},
    )
    await session.commit()
    return user, True


async def _grant_existing(
    session: AsyncSession,
    user_id: uuid.UUID,
    super_admin: Role,
    password_hash: str,
    revocations: AccessRevocations,
) -> User:
    await crud.users.lock(session, user_id)
    user = await crud.users.get_with_roles(session, user_id, for_update=True)
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
    await crud.refresh_tokens.revoke_for_user(session, user.id, at=now)
    await crud.reset_tokens.use_all_for_user(session, user.id, at=now)
    revocations.account(session, user.id, at=now)
    recorder.record(
        session,
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
    await session.commit()
    return user
