"""The permission catalog: a contract between the services, like the audit event schema.

Each service declares the permissions it checks in a module of its own here (`auth`, `activity`,
`release_notes`, `files`): `Final` names, their descriptions, and typed `Annotated` aliases for
routes (`principal: UsersReader`). `CATALOG` is all of them; auth seeds it with `SYSTEM_ROLES`
at every start. `common.testing.assert_permissions_catalogued(app)` holds every
`require_permission(...)` of an app against the catalog. Permission names are
`resource:action`; "own" access needs no permission, `:any` permissions reach everyone's data.
See docs/decisions/0012-permission-catalog-lives-in-common.md.
"""

from common.permissions.catalog import CATALOG
from common.permissions.roles import ADMIN, DEFAULT_ROLE, SUPER_ADMIN, SYSTEM_ROLES, USER

__all__ = ["ADMIN", "CATALOG", "DEFAULT_ROLE", "SUPER_ADMIN", "SYSTEM_ROLES", "USER"]
