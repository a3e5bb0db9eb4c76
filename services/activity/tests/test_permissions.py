"""The permission contract: activity's routes check exactly the permissions activity declares in
the shared catalog (`common.permissions.activity`)."""

from __future__ import annotations

from fastapi import FastAPI

from common.permissions import activity
from common.testing import assert_permissions_catalogued


async def test_routes_check_only_catalogued_permissions(app: FastAPI) -> None:
    assert assert_permissions_catalogued(app) == set(activity.PERMISSIONS)
