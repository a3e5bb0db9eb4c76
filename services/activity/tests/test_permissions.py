"""The permission contract: activity's routes check exactly the permissions activity declares in the
shared catalog (`common.permissions.activity`), and the catalog has them all."""

from __future__ import annotations

from common.permissions import activity
from common.testing.contracts import PermissionContract


class TestPermissions(PermissionContract):
    permissions = activity.PERMISSIONS
