"""The system roles auth seeds, and what each is granted at first seeding. super_admin follows
the catalog on every seed; the others keep the edits administrators make later."""

from __future__ import annotations

from typing import Final

from common.permissions.activity import ACTIVITY_READ
from common.permissions.auth import ROLES_READ, ROLES_WRITE, USERS_READ, USERS_WRITE
from common.permissions.catalog import CATALOG
from common.permissions.files import FILES_READ, FILES_READ_ANY, FILES_WRITE
from common.permissions.release_notes import RELEASE_NOTES_READ, RELEASE_NOTES_WRITE

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
