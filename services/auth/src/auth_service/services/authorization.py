"""Who may do what in the auth service, decided from the database as it is now.

Auth owns the accounts, so its privileged operations do not trust the rights an access token
claims: a token issued before a demotion or a deactivation still carries the old ones until it
expires. `Authorizer` reads the caller's active flag and permissions in the operation's
own transaction (after the operation took its row locks, so a concurrent change of the caller's
rights is either fully before or fully after it).

The rules that stop an administrator from handing out more than they hold: an actor may grant,
revoke or edit a role only if they hold every permission in it; only a super_admin may grant or
revoke super_admin, or change a super_admin's account; nobody changes their own roles or active
flag; and the last active super_admin cannot be removed or deactivated.
"""

from __future__ import annotations

import dataclasses
import uuid
from collections.abc import Iterable

from sqlalchemy.ext.asyncio import AsyncSession

from auth_service.crud import ServiceClientRepository, UserRepository
from auth_service.exceptions import AccountInactive, OwnAccountProtected, PrivilegeEscalation
from auth_service.models import Role
from common.errors import InvalidToken, PermissionDenied
from common.permissions import SUPER_ADMIN
from common.security import SERVICE_SUBJECT_PREFIX, Principal


class Authorizer:
    def __init__(self, session: AsyncSession) -> None:
        self.users = UserRepository(session)
        self.clients = ServiceClientRepository(session)

    async def current(self, principal: Principal, *required: str) -> Principal:
        """The caller with the roles and permissions the database gives them now; refused if
        the account (or service client) is gone or deactivated, or lacks one of `required`."""
        if principal.is_service:
            name = principal.subject.removeprefix(SERVICE_SUBJECT_PREFIX)
            client = await self.clients.get_by_name(name)
            if client is None or not client.is_active:
                raise InvalidToken("The service client is unknown or deactivated.")
            roles: frozenset[str] = frozenset()
            permissions = frozenset(client.permissions)
        else:
            state = await self.users.authority(principal.user_id) if principal.user_id else None
            if state is None or not state[0]:
                raise AccountInactive
            roles, permissions = frozenset(state[1]), frozenset(state[2])
        current = dataclasses.replace(principal, roles=roles, permissions=permissions)
        if not current.has_permissions(*required):
            raise PermissionDenied
        return current

    async def lock_and_check(
        self, principal: Principal, *required: str, also: Iterable[uuid.UUID] = ()
    ) -> Principal:
        """Lock the caller's row and those of `also` (in id order, as every change to an
        account does), then read the caller's rights: a concurrent change of them is either
        fully before this or fully after it."""
        await self.users.lock(*(i for i in (principal.user_id, *also) if i is not None))
        return await self.current(principal, *required)


def ensure_not_self(actor: Principal, target_id: uuid.UUID) -> None:
    if actor.user_id == target_id:
        raise OwnAccountProtected


def ensure_can_handle_roles(actor: Principal, roles: Iterable[Role]) -> None:
    for role in roles:
        if role.name == SUPER_ADMIN and SUPER_ADMIN not in actor.roles:
            raise PrivilegeEscalation("Only a super_admin can grant or revoke super_admin.")
        ensure_holds(actor, (p.name for p in role.permissions))


def ensure_holds(actor: Principal, permissions: Iterable[str]) -> None:
    missing = sorted(set(permissions) - actor.permissions)
    if missing:
        raise PrivilegeEscalation(details={"missing_permissions": missing})
