"""Assertions every service's tests share."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import httpx


def assert_error(response: httpx.Response, status: int, code: str) -> dict[str, Any]:
    """The response is an error of the shared shape with this status and code; returns the
    error object for further checks."""
    assert response.status_code == status, (response.status_code, response.text)
    body = response.json()
    assert set(body) == {"error"}, body
    error: dict[str, Any] = body["error"]
    assert error["code"] == code, error
    assert isinstance(error["message"], str)
    assert error["message"]
    assert error["request_id"] == response.headers["x-request-id"]
    return error


def assert_documented(
    openapi: Mapping[str, Any], method: str, path: str, response: httpx.Response
) -> None:
    """The OpenAPI document lists the answer's status for the operation (`path` as the document
    writes it: `/api/v1/users/{user_id}`), and the answer carries every header the document
    says that status always has. A client generated from the document can then handle it."""
    responses = openapi["paths"][path][method.lower()]["responses"]
    status = str(response.status_code)
    assert status in responses, (
        f"{method.upper()} {path} answered {status}, which its OpenAPI does not list: "
        f"{sorted(responses)}"
    )
    for name, header in responses[status].get("headers", {}).items():
        if header.get("required"):
            assert name in response.headers, (method, path, status, name)
