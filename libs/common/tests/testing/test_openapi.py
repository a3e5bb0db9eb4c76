"""`common.testing.openapi`, the OpenAPI contract's checks: they pass on an app named by the
rule, and fail, saying which operation, on an id off the rule, two operations sharing an id, a
summary FastAPI made up, a document the generator cannot read whole, a client that does not
import."""

from __future__ import annotations

from pathlib import Path

import pytest
from fastapi import APIRouter, FastAPI

from common.operation_ids import operation_id_generator
from common.testing.openapi import (
    assert_client_builds,
    assert_operation_ids,
    assert_summaries,
    generate_client,
    import_client,
)

PREFIX = "/api/v1"


def app_with(*routers: APIRouter) -> FastAPI:
    app = FastAPI(generate_unique_id_function=operation_id_generator(PREFIX))
    for router in routers:
        app.include_router(router, prefix=PREFIX)
    return app


def items_router() -> APIRouter:
    router = APIRouter(prefix="/items", tags=["items"])

    @router.get("/{item_id}", summary="One item")
    async def read_item(item_id: int) -> dict[str, int]:
        return {"id": item_id}

    @router.delete("/{item_id}", status_code=204, summary="Delete an item")
    async def delete_item(item_id: int) -> None: ...

    return router


class TestAssertOperationIds:
    def test_ids_of_the_rule_pass_and_the_operations_are_returned(self) -> None:
        operations = assert_operation_ids(app_with(items_router()), api_prefix=PREFIX)

        assert {op.operation_id for op in operations} == {
            "items-item-id-get",
            "items-item-id-delete",
        }

    def test_an_explicit_operation_id_fails_naming_the_operation(self) -> None:
        router = APIRouter()

        @router.get("/me", operation_id="readMe", summary="Me")
        async def read_me() -> None: ...

        with pytest.raises(AssertionError, match=r"'GET /api/v1/me': 'readMe \(expected me-get\)'"):
            assert_operation_ids(app_with(router), api_prefix=PREFIX)

    def test_a_route_of_several_methods_fails(self) -> None:
        router = APIRouter()

        @router.api_route("/things", methods=["GET", "POST"], summary="Things")
        async def things() -> None: ...

        with (
            pytest.warns(UserWarning, match="Duplicate Operation ID things-get-post"),
            pytest.raises(AssertionError, match="things-get-post"),
        ):
            assert_operation_ids(app_with(router), api_prefix=PREFIX)

    def test_two_operations_sharing_an_id_fail(self) -> None:
        router = APIRouter()

        @router.get("/a-b", summary="One")
        async def one() -> None: ...

        @router.get("/a/b", summary="Two")
        async def two() -> None: ...

        # FastAPI only warns; the contract fails.
        with (
            pytest.warns(UserWarning, match="Duplicate Operation ID a-b-get"),
            pytest.raises(
                AssertionError, match=r"'a-b-get': \['GET /api/v1/a-b', 'GET /api/v1/a/b'\]"
            ),
        ):
            assert_operation_ids(app_with(router), api_prefix=PREFIX)

    def test_an_app_without_operations_fails(self) -> None:
        with pytest.raises(AssertionError, match="nothing was checked"):
            assert_operation_ids(FastAPI(), api_prefix=PREFIX)


class TestAssertSummaries:
    def test_summaries_of_their_own_pass(self) -> None:
        assert len(assert_summaries(app_with(items_router()))) == 2

    @pytest.mark.parametrize("summary", [None, "Read Me", "read me"], ids=["none", "same", "case"])
    def test_fastapis_made_up_summary_fails_naming_the_operation(self, summary: str | None) -> None:
        router = APIRouter()

        @router.get("/me", summary=summary)
        async def read_me() -> None: ...

        with pytest.raises(AssertionError, match="GET /api/v1/me"):
            assert_summaries(app_with(router))


class TestClientGeneration:
    def test_the_client_has_a_module_per_operation_named_after_its_id(self, tmp_path: Path) -> None:
        functions = assert_client_builds(app_with(items_router()), tmp_path)

        assert functions == {
            "items_item_id_get": ["asyncio", "asyncio_detailed", "sync", "sync_detailed"],
            "items_item_id_delete": ["asyncio", "asyncio_detailed", "sync", "sync_detailed"],
        }
        assert (tmp_path / "generated_client" / "api" / "items" / "items_item_id_get.py").is_file()

    def test_a_document_the_generator_cannot_read_whole_fails(self, tmp_path: Path) -> None:
        response = {"content": {"application/json": {"schema": {"$ref": "#/no/such/schema"}}}}
        document = {
            "openapi": "3.1.0",
            "info": {"title": "Broken", "version": "1"},
            "paths": {"/a": {"get": {"operationId": "a-get", "responses": {"200": response}}}},
        }

        with pytest.raises(AssertionError, match="openapi-python-client failed"):
            generate_client(document, tmp_path)

    def test_a_client_that_does_not_import_fails(self, tmp_path: Path) -> None:
        package = tmp_path / "generated_client"
        (package / "api").mkdir(parents=True)
        (package / "__init__.py").write_text("")
        (package / "api" / "__init__.py").write_text("")
        (package / "api" / "broken.py").write_text("def sync_detailed(:\n")

        with pytest.raises(AssertionError, match="does not import"):
            import_client(package)
