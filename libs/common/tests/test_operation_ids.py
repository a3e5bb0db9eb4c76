"""`common.operation_ids`: every operation's id is its path without the API prefix, then its
method (`auth-me-get`), and every app `create_service_app` builds names its operations so."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from fastapi import APIRouter, FastAPI

from common.operation_ids import OPERATION_ID, operation_id

AppFactory = Callable[..., FastAPI]

router = APIRouter(prefix="/items", tags=["items"])


@router.get("/{item_id}", summary="One item")
async def read_item(item_id: int) -> dict[str, int]:
    return {"id": item_id}


@router.post("", summary="Create an item")
async def create_item() -> dict[str, int]:
    return {"id": 1}


root_router = APIRouter()


@root_router.get("/.well-known/thing", summary="A root document")
async def well_known() -> dict[str, str]:
    return {"at": "root"}


def ids_of(app: FastAPI) -> dict[str, str]:
    """`METHOD path` → operation id, from the app's OpenAPI document."""
    return {
        f"{method.upper()} {path}": operation["operationId"]
        for path, item in app.openapi()["paths"].items()
        for method, operation in item.items()
    }


class TestOperationId:
    @pytest.mark.parametrize(
        ("method", "path", "expected"),
        [
            ("GET", "/api/v1/auth/me", "auth-me-get"),
            ("PUT", "/api/v1/auth/me/password", "auth-me-password-put"),
            ("POST", "/api/v1/auth/logout-all", "auth-logout-all-post"),
            ("PUT", "/api/v1/users/{user_id}/roles", "users-user-id-roles-put"),
            ("GET", "/api/v1/activity", "activity-get"),
            ("GET", "/.well-known/jwks.json", "well-known-jwks-json-get"),
            ("GET", "/health/ready", "health-ready-get"),
            ("GET", "/", "root-get"),
            ("GET", "/api/v1", "root-get"),
        ],
    )
    def test_the_path_without_the_api_prefix_then_the_method(
        self, method: str, path: str, expected: str
    ) -> None:
        assert operation_id(path, [method], api_prefix="/api/v1") == expected
        assert OPERATION_ID.fullmatch(expected)

    def test_the_same_id_under_every_api_prefix(self) -> None:
        v1 = operation_id("/api/v1/auth/me", ["GET"], api_prefix="/api/v1")
        v2 = operation_id("/api/v2/auth/me", ["GET"], api_prefix="/api/v2")

        assert v1 == v2 == "auth-me-get"

    def test_the_prefix_is_removed_only_as_whole_segments(self) -> None:
        assert operation_id("/api/v10/things", ["GET"], api_prefix="/api/v1") == (
            "api-v10-things-get"
        )
        assert operation_id("/things", ["GET"], api_prefix="") == "things-get"

    def test_a_route_of_several_methods_gets_them_all_in_order(self) -> None:
        """Deterministic (FastAPI's own default takes any one of the set); the contract then
        refuses it, as both operations of the route share the id."""
        assert operation_id("/things", {"POST", "GET"}) == "things-get-post"

    def test_paths_that_differ_in_punctuation_only_share_an_id(self) -> None:
        """Why the contract checks that no two operations share one."""
        assert operation_id("/a-b", ["GET"]) == operation_id("/a/b", ["GET"]) == "a-b-get"


class TestTheServiceApp:
    def test_every_operation_is_named_by_the_rule(self, make_app: AppFactory) -> None:
        app = make_app(routers=[router], root_routers=[root_router])

        assert ids_of(app) == {
            "GET /health": "health-get",
            "GET /health/ready": "health-ready-get",
            "GET /api/v1/items/{item_id}": "items-item-id-get",
            "POST /api/v1/items": "items-post",
            "GET /.well-known/thing": "well-known-thing-get",
        }

    def test_the_ids_do_not_change_with_the_api_prefix(self, make_app: AppFactory) -> None:
        v1 = make_app(routers=[router])
        v2 = make_app(routers=[router], api_prefix="/api/v2")

        assert sorted(ids_of(v1).values()) == sorted(ids_of(v2).values())
        assert ids_of(v2)["GET /api/v2/items/{item_id}"] == "items-item-id-get"
