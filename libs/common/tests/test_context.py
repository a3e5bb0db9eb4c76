"""The per-request context: the request id every log line and outgoing call repeats, and the
client every audit event's actor names."""

from __future__ import annotations

import asyncio
from typing import Any

from common.audit import Actor, anonymous, principal_actor, service_actor, user_actor
from common.client import ClientInfo, parse_networks
from common.context import (
    current_client,
    enter_request,
    get_request_id,
    request_id_from_scope,
    request_id_var,
    request_scope_var,
)
from common.security import Principal


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


def scope(peer: str, *headers: tuple[bytes, bytes]) -> dict[str, Any]:
    return {"type": "http", "client": (peer, 1234), "headers": list(headers)}


class TestCurrentClient:
    def test_is_unknown_outside_a_request(self) -> None:
        assert current_client() == ClientInfo()

    def test_is_the_request_being_served(self) -> None:
        token = enter_request(scope("192.0.2.8", (b"user-agent", b"curl/8")), ())
        try:
            assert current_client() == ClientInfo(ip="192.0.2.8", user_agent="curl/8")
        finally:
            request_scope_var.reset(token)
        assert current_client() == ClientInfo()

    def test_believes_only_the_trusted_proxies(self) -> None:
        forwarded = (b"x-forwarded-for", b"198.51.100.4")
        proxies = parse_networks(("10.0.0.0/8",))
        for peer, expected in (("10.0.0.1", "198.51.100.4"), ("192.0.2.9", "192.0.2.9")):
            token = enter_request(scope(peer, forwarded), proxies)
            try:
                assert current_client().ip == expected
            finally:
                request_scope_var.reset(token)

    async def test_concurrent_requests_each_see_their_own_client(self) -> None:
        async def serve(peer: str) -> str | None:
            enter_request(scope(peer), ())
            await asyncio.sleep(0.01)
            return user_actor("u-1").ip

        results = await asyncio.gather(*(serve(f"192.0.2.{n}") for n in range(1, 4)))
        assert list(results) == ["192.0.2.1", "192.0.2.2", "192.0.2.3"]


class TestActors:
    def test_take_the_address_and_user_agent_of_the_request(self) -> None:
        token = enter_request(scope("192.0.2.8", (b"user-agent", b"app/2")), ())
        try:
            principal = Principal(
                subject="service:billing",
                roles=frozenset(),
                permissions=frozenset(),
                token_id="t",
                expires_at=0,
            )
            assert principal_actor(principal) == Actor(
                type="service", id="service:billing", ip="192.0.2.8", user_agent="app/2"
            )
            assert anonymous() == Actor(type="anonymous", ip="192.0.2.8", user_agent="app/2")
            assert service_actor("billing").id == "service:billing"
        finally:
            request_scope_var.reset(token)
