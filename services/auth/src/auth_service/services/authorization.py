"""Rules that stop an administrator from handing out more than they hold.

An actor may grant, revoke or edit a role only if they hold every permission in it; only a
super_admin may grant or revoke super_admin, or change a super_admin's account; and the last
active super_admin cannot be removed or deactivated.
"""

from __future__ import annotations

from collections.abc import Iterable

from auth_service.exceptions import PrivilegeEscalation
from auth_service.models import Role
from auth_service.permissions import SUPER_ADMIN
from common.security import Principal


def ensure_can_handle_roles(actor: Principal, roles: Iterable[Role]) -> None:
    for role in roles:
        if role.name == SUPER_ADMIN and SUPER_ADMIN not in actor.roles:
            raise PrivilegeEscalation("Only a super_admin can grant or revoke super_admin.")
        ensure_holds(actor, (p.name for p in role.permissions))


def ensure_holds(actor: Principal, permissions: Iterable[str]) -> None:
    missing = sorted(set(permissions) - actor.permissions)
    if missing:
        raise PrivilegeEscalation(details={"missing_permissions": missing})
