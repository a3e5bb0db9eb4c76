"""`assert_documented`: an answer is one the operation's OpenAPI lists, with the headers the
document says it always carries."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from common.testing import assert_documented

DOCUMENT: dict[str, Any] = {
    "paths": {
        "/api/v1/things/{thing_id}": {
            "get": {
                "responses": {
                    "200": {"description": "The thing"},
                    "429": {
                        "description": "Too many requests",
                        "headers": {"Retry-After": {"required": True}},
                    },
                }
            }
        }
    }
}
PATH = "/api/v1/things/{thing_id}"


def answer(status: int, headers: dict[str, str] | None = None) -> httpx.Response:
    return httpx.Response(status, headers=headers, json={})


class TestAssertDocumented:
    def test_a_listed_status_passes(self) -> None:
        assert_documented(DOCUMENT, "GET", PATH, answer(200))

    def test_an_unlisted_status_fails_naming_what_is_listed(self) -> None:
        with pytest.raises(AssertionError, match=r"answered 404.*\['200', '429'\]"):
            assert_documented(DOCUMENT, "get", PATH, answer(404))

    def test_a_required_header_must_be_there(self) -> None:
        assert_documented(DOCUMENT, "GET", PATH, answer(429, {"Retry-After": "5"}))
        with pytest.raises(AssertionError, match="Retry-After"):
            assert_documented(DOCUMENT, "GET", PATH, answer(429))
