"""Assertions every service's tests share."""

# Asserting is what this module is for, and it only runs under pytest: S101 does not apply here
# any more than in the tests themselves (the per-file ignore covers only `tests/` folders).
# ruff: noqa: S101

from __future__ import annotations

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
