"""Permissions the auth service checks: user and role administration."""

from __future__ import annotations

from typing import Annotated, Final

from common.security import Principal, require_permission

USERS_READ: Final = "users:read"
USERS_WRITE: Final = "users:write"
ROLES_READ: Final = "roles:read"
ROLES_WRITE: Final = "roles:write"

PERMISSIONS: Final[dict[str, str]] = {
    USERS_READ: "List and read user accounts",
    USERS_WRITE: "Change, deactivate and assign roles to user accounts",
    ROLES_READ: "List roles and permissions",
    ROLES_WRITE: "Create, change and delete roles",
}

UsersReader = Annotated[Principal, require_permission(USERS_READ)]
UsersWriter = Annotated[Principal, require_permission(USERS_WRITE)]
RolesReader = Annotated[Principal, require_permission(ROLES_READ)]
RolesWriter = Annotated[Principal, require_permission(ROLES_WRITE)]
