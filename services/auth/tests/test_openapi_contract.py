"""What the auth service's OpenAPI promises about malformed requests holds for every operation
that takes a body: a body that cannot be parsed is 422 (the status each of them documents),
`malformed_json` for JSON bodies and `malformed_body` for the form, never a 400."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from common.testing import assert_error

# A body each operation could not parse: cut short, not UTF-8, not JSON at all.
MALFORMED_JSON = {
    "truncated": b'{"email": "a@example.com", "password": "',
    "not utf-8": b'{"email": "\xff\xfe@example.com"}',
    "not json": b"email=a@example.com",
}
JSON_CONTENT_TYPES = {
    "application/json": "application/json",
    "with charset": "application/json; charset=utf-8",
    "+json subtype": "application/merge-patch+json",
}


def operations_with_a_body(app: FastAPI, media_type: str) -> list[tuple[str, str, Any]]:
    found = []
    for path, operations in app.openapi()["paths"].items():
        for method, operation in operations.items():
            content = operation.get("requestBody", {}).get("content", {})
            if media_type in content:
                found.append((method.upper(), path, operation))
    return found


def concrete(path: str, account_id: str) -> str:
    return path.replace("{user_id}", account_id).replace(
        "{role_id}", "00000000-0000-0000-0000-000000000000"
    )


class TestMalformedBodies:
    async def test_every_json_operation_documents_422(self, app: FastAPI) -> None:
        operations = operations_with_a_body(app, "application/json")

        assert len(operations) >= 10
        assert all("422" in operation["responses"] for _, _, operation in operations)

    @pytest.mark.parametrize("body", MALFORMED_JSON.values(), ids=MALFORMED_JSON.keys())
    @pytest.mark.parametrize(
        "content_type", JSON_CONTENT_TYPES.values(), ids=JSON_CONTENT_TYPES.keys()
    )
    async def test_a_malformed_json_body_is_422_malformed_json(
        self,
        app: FastAPI,
        client: httpx.AsyncClient,
        admin: Any,
        body: bytes,
        content_type: str,
    ) -> None:
        for method, path, _ in operations_with_a_body(app, "application/json"):
            response = await client.request(
                method,
                concrete(path, admin.id),
                content=body,
                headers={"Content-Type": content_type, **admin.headers},
            )

            error = assert_error(response, 422, "malformed_json")
            assert error["details"][0]["type"] == "json_invalid", (method, path)

    @pytest.mark.parametrize(
        "body",
        [MALFORMED_JSON["truncated"], MALFORMED_JSON["not utf-8"]],
        ids=["truncated", "not utf-8"],
    )
    async def test_a_body_without_content_type_is_422_not_an_object(
        self, app: FastAPI, client: httpx.AsyncClient, admin: Any, body: bytes
    ) -> None:
        """Without a JSON content type the body is not read as JSON (FastAPI's strict content
        type): it is refused as not being the object the operation expects."""
        for method, path, _ in operations_with_a_body(app, "application/json"):
            response = await client.request(
                method, concrete(path, admin.id), content=body, headers=admin.headers
            )

            error = assert_error(response, 422, "validation_error")
            assert error["details"][0]["type"] == "model_attributes_type", (method, path)

    async def test_the_form_endpoint_documents_422(self, app: FastAPI) -> None:
        [(_, path, operation)] = operations_with_a_body(app, "application/x-www-form-urlencoded")

        assert path == "/api/v1/auth/token"
        assert "422" in operation["responses"]

    @pytest.mark.parametrize(
        ("content_type", "body"),
        [
            ("multipart/form-data", b"grant_type=password"),
            ("multipart/form-data; boundary=xyz", b"--xyz\r\nno colon in this header\r\n\r\nx"),
        ],
        ids=["no boundary", "broken part header"],
    )
    async def test_a_malformed_form_body_is_422_malformed_body(
        self, client: httpx.AsyncClient, content_type: str, body: bytes
    ) -> None:
        response = await client.post(
            "/api/v1/auth/token", content=body, headers={"Content-Type": content_type}
        )

        assert_error(response, 422, "malformed_body")
