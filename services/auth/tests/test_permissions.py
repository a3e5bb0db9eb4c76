"""The permission contract: auth's routes check exactly the permissions auth declares in the
shared catalog (`common.permissions.auth`), and the catalog has them all."""

from __future__ import annotations

from common.permissions import auth
from common.testing.contracts import PermissionContract


class TestPermissions(PermissionContract):
    permissions = auth.PERMISSIONS
