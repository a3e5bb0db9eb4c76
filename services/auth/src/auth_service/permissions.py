"""The permission catalog and the seeded roles.

Auth owns RBAC for every service, so the catalog names the permissions of all of them; each
service checks its own with `require_permission(...)`. "Own" access needs no permission (any
signed-in user reads their own profile and activity); `:any` permissions reach everyone's.
"""

from __future__ import annotations

from typing import Final

USERS_READ: Final = "users:read"
USERS_WRITE: Final = "users:write"
ROLES_READ: Final = "roles:read"
ROLES_WRITE: Final = "roles:write"
ACTIVITY_READ: Final = "activity:read"
RELEASE_NOTES_READ: Final = "release_notes:read"
RELEASE_NOTES_WRITE: Final = "release_notes:write"
FILES_READ: Final = "files:read"
FILES_WRITE: Final = "files:write"
FILES_READ_ANY: Final = "files:read:any"
FILES_DELETE_ANY: Final = "files:delete:any"

CATALOG: Final[dict[str, str]] = {
    USERS_READ: "List and read user accounts",
    USERS_WRITE: "Change, deactivate and assign roles to user accounts",
    ROLES_READ: "List roles and permissions",
    ROLES_WRITE: "Create, change and delete roles",
    ACTIVITY_READ: "Read every user's audit trail",
    RELEASE_NOTES_READ: "Read published release notes",
    RELEASE_NOTES_WRITE: "Write, publish and archive release notes",
    FILES_READ: "Read own files",
    FILES_WRITE: "Upload and delete own files",
    FILES_READ_ANY: "Read anyone's files",
    FILES_DELETE_ANY: "Delete anyone's files",
}

SUPER_ADMIN: Final = "super_admin"
ADMIN: Final = "admin"
USER: Final = "user"
DEFAULT_ROLE: Final = USER

SYSTEM_ROLES: Final[dict[str, tuple[str, frozenset[str]]]] = {
    SUPER_ADMIN: ("Everything, including granting super_admin", frozenset(CATALOG)),
    ADMIN: (
        "Manage users, roles and release notes; read all activity and files",
        frozenset(
            {
                USERS_READ,
                USERS_WRITE,
                ROLES_READ,
                ROLES_WRITE,
                ACTIVITY_READ,
                RELEASE_NOTES_READ,
                RELEASE_NOTES_WRITE,
                FILES_READ,
                FILES_WRITE,
                FILES_READ_ANY,
            }
        ),
    ),
    USER: (
        "Own profile, own files, own activity; read published release notes",
        frozenset({RELEASE_NOTES_READ, FILES_READ, FILES_WRITE}),
    ),
}
