"""The permission contract: auth's routes check exactly the permissions auth declares in the
shared catalog (`common.permissions.auth`)."""

from __future__ import annotations

from fastapi import FastAPI

from common.permissions import auth
from common.testing import assert_permissions_catalogued


async def test_routes_check_only_catalogued_permissions(app: FastAPI) -> None:
    assert assert_permissions_catalogued(app) == set(auth.PERMISSIONS)
