"""Forwarding through the gateway served on loopback to upstreams served on loopback: what the
upstream receives and what the client gets back."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from contextlib import AbstractAsyncContextManager
from typing import Any

import httpx
import pytest

from common.testing import assert_error, free_port
from gateway.testing import EchoUpstream, hanging_up_server

GatewayOpener = Callable[..., AbstractAsyncContextManager[httpx.AsyncClient]]


def values(echo: dict[str, Any], name: str) -> list[str]:
    """Every value of header `name` the upstream received."""
    return [value for key, value in echo["headers"] if key == name]


class TestRouting:
    @pytest.mark.parametrize(
        ("path", "upstream"),
        [
            ("/api/v1/things", "a"),
            ("/api/v1/things/7", "a"),
            ("/api/v1/things/special", "b"),
            ("/api/v1/things/special/7", "b"),
            ("/api/v1/things/specialist", "a"),
            ("/api/v1/other/x", "b"),
            ("/.well-known/jwks.json", "b"),
        ],
    )
    async def test_the_longest_matching_prefix_picks_the_upstream(
        self, client: httpx.AsyncClient, path: str, upstream: str
    ) -> None:
        response = await client.get(path)

        assert response.status_code == 200
        assert response.json()["upstream"] == upstream
        assert response.json()["path"] == path

    @pytest.mark.parametrize(
        "path", ["/api/v1/thingsx", "/api/v1", "/nowhere", "/api/v1/things/%2e%2e/other"]
    )
    async def test_a_path_no_upstream_serves_is_the_json_404(
        self, client: httpx.AsyncClient, path: str
    ) -> None:
        response = await client.get(path)

        error = assert_error(response, 404, "not_found")
        assert error["message"] == "No service serves this path."

    async def test_the_gateways_own_routes_are_not_forwarded(
        self, client: httpx.AsyncClient
    ) -> None:
        response = await client.get("/health")

        assert response.json() == {"status": "ok", "checks": {}}
        assert "x-upstream" not in response.headers


class TestRequestUnchanged:
    @pytest.mark.parametrize("method", ["GET", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"])
    async def test_the_method_reaches_the_upstream(
        self, client: httpx.AsyncClient, method: str
    ) -> None:
        response = await client.request(method, "/api/v1/things/1")

        assert response.json()["method"] == method

    async def test_head_gets_the_head_of_the_answer(self, client: httpx.AsyncClient) -> None:
        response = await client.head("/api/v1/things/1")

        assert response.status_code == 200
        assert response.content == b""
        assert int(response.headers["content-length"]) > 0

    async def test_path_and_query_go_through_as_the_client_wrote_them(
        self, client: httpx.AsyncClient
    ) -> None:
        raw_path = "/api/v1/things/a%2Fb/%C3%A9t%C3%A9"
        query = "b=2&a=1&a=%20x&empty=&flag"
        response = await client.get(f"{raw_path}?{query}")

        echo = response.json()
        assert echo["raw_path"] == raw_path
        assert echo["query_string"] == query

    async def test_the_body_and_end_to_end_headers_arrive_unchanged(
        self, client: httpx.AsyncClient
    ) -> None:
        body = b'{"name": "widget", "size": 3}'
        response = await client.post(
            "/api/v1/things",
            content=body,
            headers={
                "Content-Type": "application/json; charset=utf-8",
                "Authorization": "Bearer abc.def.ghi",
                "Cookie": "session=1",
                "Accept": "application/json",
                "User-Agent": "gateway-tests/1.0",
                "X-Custom": "one",
            },
        )

        echo = response.json()
        assert echo["body_size"] == len(body)
        assert values(echo, "content-length") == [str(len(body))]
        assert values(echo, "content-type") == ["application/json; charset=utf-8"]
        assert values(echo, "authorization") == ["Bearer abc.def.ghi"]
        assert values(echo, "cookie") == ["session=1"]
        assert values(echo, "accept") == ["application/json"]
        assert values(echo, "user-agent") == ["gateway-tests/1.0"]
        assert values(echo, "x-custom") == ["one"]

    async def test_the_gateway_adds_no_headers_of_its_own_making(
        self, client: httpx.AsyncClient
    ) -> None:
        """No user agent, content type or encoding the client did not send (aiohttp's own)."""
        response = await client.post(
            "/api/v1/things", content=b"raw", headers={"User-Agent": "", "Accept-Encoding": ""}
        )

        echo = response.json()
        assert values(echo, "content-type") == []
        assert values(echo, "accept-encoding") == [""]
        assert values(echo, "user-agent") == [""]

    async def test_a_body_sent_with_expect_100_continue_arrives(
        self, client: httpx.AsyncClient
    ) -> None:
        response = await client.post(
            "/api/v1/things", content=b"x" * 5000, headers={"Expect": "100-continue"}
        )

        assert response.json()["body_size"] == 5000
        assert values(response.json(), "expect") == []

    async def test_a_repeated_header_arrives_repeated(self, client: httpx.AsyncClient) -> None:
        response = await client.get("/api/v1/things", headers=[("X-Many", "1"), ("X-Many", "2")])

        assert values(response.json(), "x-many") == ["1", "2"]

    async def test_a_chunked_body_arrives_whole(self, client: httpx.AsyncClient) -> None:
        async def pieces() -> Any:
            for piece in (b"abc", b"def", b"ghi"):
                yield piece

        response = await client.put("/api/v1/things/1", content=pieces())

        echo = response.json()
        assert echo["body_size"] == 9
        assert values(echo, "transfer-encoding") == ["chunked"]  # aiohttp's own chunking

    async def test_the_upstream_sees_its_own_host(
        self, client: httpx.AsyncClient, upstream_a: tuple[EchoUpstream, str]
    ) -> None:
        echo = (await client.get("/api/v1/things")).json()

        assert values(echo, "host") == [upstream_a[1].removeprefix("http://")]


class TestHopByHop:
    async def test_hop_by_hop_request_headers_stay_at_the_gateway(
        self, client: httpx.AsyncClient
    ) -> None:
        response = await client.get(
            "/api/v1/things",
            headers={
                "Connection": "keep-alive, X-Hop",
                "X-Hop": "for the gateway",
                "Keep-Alive": "timeout=5",
                "TE": "trailers",
                "Trailer": "X-Checksum",
                "Proxy-Authorization": "Basic Zm9vOmJhcg==",
                "Proxy-Connection": "keep-alive",
                "Upgrade": "h2c",
                "Expect": "100-continue",
                "X-End-To-End": "kept",
            },
        )

        names = {name for name, _ in response.json()["headers"]}
        dropped = {
            "expect",
            "x-hop",
            "keep-alive",
            "te",
            "trailer",
            "proxy-authorization",
            "proxy-connection",
            "upgrade",
        }
        assert not names & dropped
        assert values(response.json(), "connection") in ([], ["keep-alive"])  # aiohttp's own
        assert "x-end-to-end" in names

    async def test_hop_by_hop_answer_headers_stay_at_the_gateway(
        self, client: httpx.AsyncClient
    ) -> None:
        response = await client.get("/api/v1/things/hop-by-hop")

        assert (response.status_code, response.text) == (201, "ok")
        for name in ("x-private", "keep-alive", "proxy-authenticate", "trailer", "upgrade"):
            assert name not in response.headers, name
        assert response.headers.get("connection") in (None, "keep-alive")
        assert response.headers["x-end-to-end"] == "kept"
        assert response.headers.get_list("set-cookie") == ["a=1; Path=/", "b=2; Path=/"]
        assert len(response.headers.get_list("date")) == 1
        assert len(response.headers.get_list("server")) <= 1


CLAIMS = {
    "X-Forwarded-For": "203.0.113.9, 198.51.100.4",
    "X-Forwarded-Proto": "https",
    "X-Forwarded-Host": "api.example.com",
    "Forwarded": "for=203.0.113.9",
}


class TestForwardedHeaders:
    @pytest.mark.parametrize(
        ("trusted", "believed"),
        [
            ([], False),
            (["10.0.0.0/8", "::1"], False),
            (["127.0.0.1"], True),
        ],
    )
    async def test_the_clients_claims_are_believed_only_from_trusted_proxies(
        self, gateway: GatewayOpener, trusted: list[str], believed: bool
    ) -> None:
        async with gateway(trusted_proxies=trusted) as client:
            echo = (await client.get("/api/v1/things", headers=CLAIMS)).json()
            own_host = client.base_url.netloc.decode()

        forwarded = {
            name: values(echo, name)
            for name in ("x-forwarded-for", "x-forwarded-proto", "x-forwarded-host", "forwarded")
        }
        if believed:  # kept, and the peer appended to the chain
            assert forwarded == {
                "x-forwarded-for": ["203.0.113.9, 198.51.100.4, 127.0.0.1"],
                "x-forwarded-proto": ["https"],
                "x-forwarded-host": ["api.example.com"],
                "forwarded": ["for=203.0.113.9"],
            }
        else:  # replaced by what the gateway saw
            assert forwarded == {
                "x-forwarded-for": ["127.0.0.1"],
                "x-forwarded-proto": ["http"],
                "x-forwarded-host": [own_host],
                "forwarded": [],
            }

    async def test_a_trusted_proxy_that_says_nothing_gets_the_gateways_view(
        self, gateway: GatewayOpener
    ) -> None:
        async with gateway(trusted_proxies=["127.0.0.0/8"]) as client:
            echo = (await client.get("/api/v1/things")).json()

        assert values(echo, "x-forwarded-for") == ["127.0.0.1"]
        assert values(echo, "x-forwarded-proto") == ["http"]


class TestRequestId:
    async def test_the_clients_id_is_passed_on_and_echoed(self, client: httpx.AsyncClient) -> None:
        response = await client.get("/api/v1/things", headers={"X-Request-ID": "client-id-42"})

        assert values(response.json(), "x-request-id") == ["client-id-42"]
        assert response.headers.get_list("x-request-id") == ["client-id-42"]

    @pytest.mark.parametrize("sent", [None, "not a valid id, with spaces"])
    async def test_without_a_usable_id_one_is_made_passed_on_and_echoed(
        self, client: httpx.AsyncClient, sent: str | None
    ) -> None:
        headers = {"X-Request-ID": sent} if sent else {}
        response = await client.get("/api/v1/things", headers=headers)

        made = response.headers["x-request-id"]
        assert made != sent
        assert len(made) == 32
        assert values(response.json(), "x-request-id") == [made]


class TestUpstreamFailures:
    async def test_an_upstream_that_refuses_connections_is_502(
        self, gateway: GatewayOpener, upstream_a: tuple[EchoUpstream, str]
    ) -> None:
        nobody = f"http://127.0.0.1:{free_port()}"
        async with gateway({"a": {"url": upstream_a[1]}, "b": {"url": nobody}}) as client:
            down = await client.get("/api/v1/other/1", headers={"X-Request-ID": "down-1"})
            up = await client.get("/api/v1/things/1")

        error = assert_error(down, 502, "bad_gateway")
        assert error["request_id"] == "down-1"
        assert "Traceback" not in down.text
        assert up.json()["upstream"] == "a"

    async def test_an_upstream_that_hangs_up_is_502(
        self, gateway: GatewayOpener, upstream_a: tuple[EchoUpstream, str]
    ) -> None:
        async with (
            hanging_up_server() as rude,
            gateway({"a": {"url": upstream_a[1]}, "b": {"url": rude}}) as client,
        ):
            response = await client.post("/api/v1/other/1", content=b"x" * 1000)

        assert_error(response, 502, "bad_gateway")

    async def test_an_upstream_slower_than_its_read_timeout_is_504_in_time(
        self, gateway: GatewayOpener, upstream_a: tuple[EchoUpstream, str]
    ) -> None:
        slow = {"url": upstream_a[1], "read_timeout": 0.3}
        async with gateway({"a": slow, "b": {"url": upstream_a[1]}}) as client:
            started = time.perf_counter()
            response = await client.get("/api/v1/things/slow", params={"seconds": 10})
            took = time.perf_counter() - started
            fast = await client.get("/api/v1/things/slow", params={"seconds": 0})

        assert_error(response, 504, "gateway_timeout")
        assert took < 3
        assert fast.status_code == 200


class TestAnswersBrokenOff:
    """Once the head is out, the status cannot change: the client gets a body cut short and a
    closed connection, promptly, never a complete-looking wrong body or a hang."""

    HEAD = b"HTTP/1.1 200 OK\r\ncontent-type: text/plain\r\ncontent-length: 100000\r\n\r\n"

    @pytest.mark.parametrize("stall", [0.0, 2.0], ids=["closed", "silent"])
    async def test_the_client_sees_a_truncated_answer_in_time(
        self, gateway: GatewayOpener, upstream_a: tuple[EchoUpstream, str], stall: float
    ) -> None:
        async with (
            hanging_up_server(after=self.HEAD + b"x" * 1000, stall=stall) as rude,
            gateway(
                {"a": {"url": upstream_a[1]}, "b": {"url": rude, "read_timeout": 0.3}}
            ) as client,
        ):
            started = time.perf_counter()
            with pytest.raises(httpx.RemoteProtocolError):
                await client.get("/api/v1/other/1")
            took = time.perf_counter() - started
            after = await client.get("/api/v1/things/1")

        assert took < 1.5
        assert after.status_code == 200


class TestDisconnects:
    async def test_a_client_leaving_mid_answer_ends_the_upstream_stream(
        self, client: httpx.AsyncClient, upstream_a: tuple[EchoUpstream, str]
    ) -> None:
        upstream = upstream_a[0]
        for _ in range(3):
            upstream.ended.clear()
            async with client.stream("GET", "/api/v1/things/endless") as response:
                received = 0
                async for piece in response.aiter_raw():
                    received += len(piece)
                    if received > 256 * 1024:
                        break
            # Leaving the block unread closes the client's connection.
            await asyncio.wait_for(upstream.ended.wait(), timeout=5)

        assert upstream.open_streams == 0
        assert upstream.streams_ended == 3
        # The gateway still serves, over new connections to the same upstream.
        assert (await client.get("/api/v1/things")).status_code == 200


class TestConcurrency:
    async def test_many_requests_at_once_each_get_their_own_answer(
        self, client: httpx.AsyncClient
    ) -> None:
        async def one(n: int) -> tuple[int, dict[str, Any]]:
            prefix = "/api/v1/things" if n % 2 else "/api/v1/other"
            response = await client.post(
                f"{prefix}/{n}", params={"n": n}, content=str(n).encode() * n
            )
            return n, response.json()

        for _ in range(4):
            results = await asyncio.gather(*(one(n) for n in range(1, 51)))
            for n, echo in results:
                assert echo["upstream"] == ("a" if n % 2 else "b")
                assert echo["query_string"] == f"n={n}"
                assert echo["body_size"] == len(str(n)) * n


class TestBodyLimit:
    @pytest.mark.parametrize("declared", [True, False], ids=["content-length", "chunked"])
    async def test_a_body_over_max_body_size_is_413(
        self, gateway: GatewayOpener, declared: bool
    ) -> None:
        async def pieces() -> Any:
            for _ in range(5):
                yield b"x" * 1000

        headers = {"Content-Length": "5000"} if declared else {}
        async with gateway(max_body_size=2000) as client:
            response = await client.post("/api/v1/things", content=pieces(), headers=headers)
            after = await client.post("/api/v1/things", content=b"x" * 2000)

        assert_error(response, 413, "payload_too_large")
        assert after.json()["body_size"] == 2000
