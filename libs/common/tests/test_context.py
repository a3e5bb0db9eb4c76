"""The per-request context: the request id every log line and outgoing call repeats."""

from __future__ import annotations

import asyncio

from common.context import get_request_id, request_id_from_scope, request_id_var


class TestRequestIdVar:
    def test_is_none_outside_a_request(self) -> None:
        assert get_request_id() is None

    def test_reads_what_was_set(self) -> None:
        token = request_id_var.set("req-1")
        try:
            assert get_request_id() == "req-1"
        finally:
            request_id_var.reset(token)

        assert get_request_id() is None

    async def test_each_task_keeps_its_own_id(self) -> None:
        async def handle(request_id: str) -> str | None:
            request_id_var.set(request_id)
            await asyncio.sleep(0.01)
            return get_request_id()

        results = await asyncio.gather(handle("a"), handle("b"), handle("c"))

        assert list(results) == ["a", "b", "c"]
        assert get_request_id() is None


class TestRequestIdFromScope:
    def test_reads_the_id_stored_in_the_scope_state(self) -> None:
        assert request_id_from_scope({"state": {"request_id": "req-2"}}) == "req-2"

    def test_is_none_without_state(self) -> None:
        assert request_id_from_scope({"type": "http"}) is None

    def test_is_none_when_the_state_has_no_id(self) -> None:
        assert request_id_from_scope({"state": {}}) is None
