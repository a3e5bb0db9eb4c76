"""`assert_permissions_catalogued`: every `require_permission(...)` an app runs, on a route, in
an `Annotated` parameter, in a router's or a nested dependency, names a catalogued permission."""

from __future__ import annotations

from typing import Annotated

import pytest
from fastapi import APIRouter, Depends, FastAPI

from common.permissions.activity import ACTIVITY_READ, ActivityReader
from common.permissions.auth import USERS_READ, USERS_WRITE
from common.security import Principal, require_permission
from common.testing import assert_permissions_catalogued, permissions_checked


def app_with(router: APIRouter) -> FastAPI:
    app = FastAPI()
    app.include_router(router, prefix="/api/v1")
    return app


async def needs_users_write(
    principal: Annotated[Principal, require_permission(USERS_WRITE)],
) -> Principal:
    return principal


class TestPermissionsChecked:
    def test_finds_checks_wherever_they_are_declared(self) -> None:
        router = APIRouter(dependencies=[require_permission(USERS_READ)])

        @router.get("/events")
        async def events(_: ActivityReader) -> None: ...

        @router.post("/users")
        async def change(_: Annotated[Principal, Depends(needs_users_write)]) -> None: ...

        @router.get("/open")
        async def open_route() -> None: ...

        mounted = FastAPI()

        @mounted.get("/reports", dependencies=[require_permission(ACTIVITY_READ)])
        async def reports() -> None: ...

        app = app_with(router)
        app.mount("/legacy", mounted)

        assert permissions_checked(app) == {
            "/api/v1/events": {USERS_READ, ACTIVITY_READ},
            "/api/v1/users": {USERS_READ, USERS_WRITE},
            "/api/v1/open": {USERS_READ},
            "/legacy/reports": {ACTIVITY_READ},
        }


class TestAssertPermissionsCatalogued:
    def test_catalogued_permissions_pass_and_are_returned(self) -> None:
        router = APIRouter()

        @router.get("/events", dependencies=[require_permission(ACTIVITY_READ, USERS_READ)])
        async def events() -> None: ...

        assert assert_permissions_catalogued(app_with(router)) == {ACTIVITY_READ, USERS_READ}

    def test_an_uncatalogued_permission_fails_naming_route_and_permission(self) -> None:
        router = APIRouter()

        @router.get("/reports", dependencies=[require_permission("reports:read")])
        async def reports() -> None: ...

        with pytest.raises(AssertionError, match=r"'/api/v1/reports': \['reports:read'\]"):
            assert_permissions_catalogued(app_with(router))

    def test_an_app_without_any_check_fails(self) -> None:
        router = APIRouter()

        @router.get("/open")
        async def open_route() -> None: ...

        with pytest.raises(AssertionError, match="nothing was checked"):
            assert_permissions_catalogued(app_with(router))
