"""`ServiceClient` and `ServiceTokenProvider` against a real service on loopback: the request id
passed on, retries only where repeating is safe, and a service token from a client-credentials
grant that is reused, refreshed, and fetched again once after a 401."""

from __future__ import annotations

import asyncio
import base64
import socket
import time
from collections import Counter
from collections.abc import AsyncIterator
from typing import Any
from urllib.parse import parse_qs

import httpx
import pytest
import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from common.context import request_id_var
from common.http_client import ServiceClient, ServiceTokenProvider, UpstreamUnavailable
from common.testing import free_port, serve_app

CLIENT_ID = "billing"
CLIENT_SECRET = "billing-secret-0123456789"
FAST = 0.001  # seconds of backoff: retries without waiting
ALL_METHODS = ["GET", "HEAD", "OPTIONS", "PUT", "DELETE", "POST", "PATCH"]


class Upstream:
    """The service on the other end of the client. It counts calls, fails on demand, and plays
    the auth service's token endpoint (the boundary the provider talks to)."""

    def __init__(self) -> None:
        self.url = ""
        self.app = Starlette(
            routes=[
                Route("/flaky", self.flaky, methods=ALL_METHODS),
                Route("/echo", self.echo, methods=["GET", "POST"]),
                Route("/slow", self.slow, methods=["GET", "POST"]),
                Route("/oauth/token", self.token, methods=["POST"]),
                Route("/protected", self.protected, methods=["GET"]),
            ]
        )
        self.reset()

    def reset(self) -> None:
        self.calls: Counter[str] = Counter()
        self.failures = 0
        self.failure_status = 503
        self.echoed: list[dict[str, str | None]] = []
        self.token_requests: list[dict[str, Any]] = []
        self.token_lifetime = 300
        self.issued: list[str] = []
        self.accepted: set[str] = set()
        self.accept_tokens = True

    async def flaky(self, request: Request) -> JSONResponse:
        self.calls[f"{request.method} /flaky"] += 1
        if self.failures > 0:
            self.failures -= 1
            return JSONResponse({"detail": "try again"}, status_code=self.failure_status)
        return JSONResponse({"method": request.method})

    async def echo(self, request: Request) -> JSONResponse:
        self.calls[f"{request.method} /echo"] += 1
        self.echoed.append(
            {
                "x-request-id": request.headers.get("x-request-id"),
                "x-custom": request.headers.get("x-custom"),
            }
        )
        return JSONResponse({"ok": True})

    async def slow(self, request: Request) -> JSONResponse:
        self.calls[f"{request.method} /slow"] += 1
        await asyncio.sleep(0.3)
        return JSONResponse({"ok": True})

    async def token(self, request: Request) -> JSONResponse:
        form = {k: v[0] for k, v in parse_qs((await request.body()).decode()).items()}
        expected = base64.b64encode(f"{CLIENT_ID}:{CLIENT_SECRET}".encode()).decode()
        self.token_requests.append(
            {"form": form, "request_id": request.headers.get("x-request-id")}
        )
        if request.headers.get("authorization") != f"Basic {expected}":
            return JSONResponse({"error": "invalid_client"}, status_code=401)
        if form.get("grant_type") != "client_credentials":
            return JSONResponse({"error": "unsupported_grant_type"}, status_code=400)
        token = f"svc-token-{len(self.issued) + 1}"
        self.issued.append(token)
        self.accepted.add(token)
        return JSONResponse(
            {"access_token": token, "token_type": "bearer", "expires_in": self.token_lifetime}
        )

    async def protected(self, request: Request) -> JSONResponse:
        self.calls["GET /protected"] += 1
        token = request.headers.get("authorization", "").removeprefix("Bearer ")
        if not self.accept_tokens or token not in self.accepted:
            return JSONResponse({"error": "invalid_token"}, status_code=401)
        return JSONResponse({"token": token})


@pytest.fixture(scope="module")
async def served_upstream() -> AsyncIterator[Upstream]:
    upstream = Upstream()
    async with serve_app(upstream.app) as base_url:
        upstream.url = base_url
        yield upstream


@pytest.fixture
def upstream(served_upstream: Upstream) -> Upstream:
    served_upstream.reset()
    return served_upstream


@pytest.fixture
async def http() -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(timeout=2.0) as client:
        yield client


@pytest.fixture
def provider(upstream: Upstream, http: httpx.AsyncClient) -> ServiceTokenProvider:
    return ServiceTokenProvider(
        f"{upstream.url}/oauth/token", CLIENT_ID, CLIENT_SECRET, client=http
    )


class TestRequestIdPropagation:
    async def test_the_current_request_id_is_passed_on(self, upstream: Upstream) -> None:
        token = request_id_var.set("req-abc")
        try:
            async with ServiceClient(upstream.url) as client:
                await client.get("/echo")
        finally:
            request_id_var.reset(token)

        assert upstream.echoed == [{"x-request-id": "req-abc", "x-custom": None}]

    async def test_no_request_id_is_sent_outside_a_request(self, upstream: Upstream) -> None:
        async with ServiceClient(upstream.url) as client:
            await client.get("/echo")

        assert upstream.echoed == [{"x-request-id": None, "x-custom": None}]

    async def test_the_callers_headers_are_sent_too(self, upstream: Upstream) -> None:
        token = request_id_var.set("req-xyz")
        try:
            async with ServiceClient(upstream.url) as client:
                await client.post("/echo", json={}, headers={"X-Custom": "yes"})
        finally:
            request_id_var.reset(token)

        assert upstream.echoed == [{"x-request-id": "req-xyz", "x-custom": "yes"}]


class TestRetries:
    async def test_get_is_retried_on_503_until_it_succeeds(self, upstream: Upstream) -> None:
        upstream.failures = 2

        async with ServiceClient(upstream.url, retries=2, backoff=FAST) as client:
            response = await client.get("/flaky")

        assert response.status_code == 200
        assert upstream.calls["GET /flaky"] == 3

    @pytest.mark.parametrize("status", [502, 503, 504])
    async def test_each_gateway_failure_is_retried(self, upstream: Upstream, status: int) -> None:
        upstream.failures, upstream.failure_status = 1, status

        async with ServiceClient(upstream.url, retries=1, backoff=FAST) as client:
            response = await client.get("/flaky")

        assert response.status_code == 200

    async def test_the_last_503_is_returned_when_retries_run_out(self, upstream: Upstream) -> None:
        upstream.failures = 10

        async with ServiceClient(upstream.url, retries=2, backoff=FAST) as client:
            response = await client.get("/flaky")

        assert response.status_code == 503
        assert response.json() == {"detail": "try again"}
        assert upstream.calls["GET /flaky"] == 3

    @pytest.mark.parametrize("method", ["HEAD", "OPTIONS", "PUT", "DELETE"])
    async def test_other_idempotent_methods_are_retried(
        self, upstream: Upstream, method: str
    ) -> None:
        upstream.failures = 1

        async with ServiceClient(upstream.url, retries=2, backoff=FAST) as client:
            response = await client.request(method, "/flaky")

        assert response.status_code == 200
        assert upstream.calls[f"{method} /flaky"] == 2

    @pytest.mark.parametrize("method", ["POST", "PATCH"])
    async def test_non_idempotent_methods_are_not_retried_on_503(
        self, upstream: Upstream, method: str
    ) -> None:
        upstream.failures = 1

        async with ServiceClient(upstream.url, retries=2, backoff=FAST) as client:
            response = await client.request(method, "/flaky")

        assert response.status_code == 503
        assert upstream.calls[f"{method} /flaky"] == 1

    async def test_a_500_is_not_retried(self, upstream: Upstream) -> None:
        upstream.failures, upstream.failure_status = 1, 500

        async with ServiceClient(upstream.url, retries=2, backoff=FAST) as client:
            response = await client.get("/flaky")

        assert response.status_code == 500
        assert upstream.calls["GET /flaky"] == 1

    async def test_get_is_retried_after_a_read_timeout(self, upstream: Upstream) -> None:
        timeout = httpx.Timeout(0.1, connect=1.0)

        async with ServiceClient(upstream.url, timeout=timeout, retries=1, backoff=FAST) as client:
            with pytest.raises(UpstreamUnavailable):
                await client.get("/slow")

        assert upstream.calls["GET /slow"] == 2

    async def test_post_is_not_retried_after_a_read_timeout(self, upstream: Upstream) -> None:
        timeout = httpx.Timeout(0.1, connect=1.0)

        async with ServiceClient(upstream.url, timeout=timeout, retries=2, backoff=FAST) as client:
            with pytest.raises(UpstreamUnavailable):
                await client.post("/slow", json={"charge": 10})

        # The server may have acted on it: sending it again could charge twice.
        assert upstream.calls["POST /slow"] == 1

    async def test_post_is_retried_when_the_connection_was_refused(self) -> None:
        late = Upstream()
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind(("127.0.0.1", 0))  # bound but not listening: connections are refused
        port = sock.getsockname()[1]
        server = uvicorn.Server(
            uvicorn.Config(late.app, lifespan="off", log_config=None, access_log=False)
        )
        try:
            async with ServiceClient(f"http://127.0.0.1:{port}", retries=5, backoff=0.1) as client:
                request = asyncio.create_task(client.post("/echo", json={"n": 1}))
                await asyncio.sleep(0.05)  # the first attempt has been refused by now
                serving = asyncio.create_task(server.serve(sockets=[sock]))
                try:
                    response = await request
                finally:
                    server.should_exit = True
                    await serving
        finally:
            sock.close()

        assert response.status_code == 200
        assert late.calls["POST /echo"] == 1

    async def test_an_unreachable_service_is_upstream_unavailable_after_retries(self) -> None:
        url = f"http://127.0.0.1:{free_port()}"

        started = time.monotonic()
        async with ServiceClient(url, retries=2, backoff=0.05) as client:
            with pytest.raises(UpstreamUnavailable) as caught:
                await client.post("/anything", json={})
        elapsed = time.monotonic() - started

        assert (caught.value.status_code, caught.value.code) == (503, "upstream_unavailable")
        assert elapsed >= 0.05 + 0.1  # it waited before each of the two retries

    async def test_no_retries_when_told_so(self) -> None:
        url = f"http://127.0.0.1:{free_port()}"

        started = time.monotonic()
        async with ServiceClient(url, retries=0, backoff=1.0) as client:
            with pytest.raises(UpstreamUnavailable):
                await client.get("/anything")

        assert time.monotonic() - started < 0.5


class TestServiceToken:
    async def test_requests_carry_a_token_from_the_client_credentials_grant(
        self, upstream: Upstream, provider: ServiceTokenProvider
    ) -> None:
        async with ServiceClient(upstream.url, token_provider=provider) as client:
            response = await client.get("/protected")

        assert response.json() == {"token": "svc-token-1"}
        assert upstream.token_requests == [
            {"form": {"grant_type": "client_credentials"}, "request_id": None}
        ]

    async def test_the_token_is_reused_while_it_is_fresh(
        self, upstream: Upstream, provider: ServiceTokenProvider
    ) -> None:
        async with ServiceClient(upstream.url, token_provider=provider) as client:
            await client.get("/protected")
            response = await client.get("/protected")

        assert response.json() == {"token": "svc-token-1"}
        assert upstream.issued == ["svc-token-1"]

    async def test_a_token_near_its_expiry_is_replaced(
        self, upstream: Upstream, provider: ServiceTokenProvider
    ) -> None:
        upstream.token_lifetime = 10  # inside the 30 s refresh margin

        async with ServiceClient(upstream.url, token_provider=provider) as client:
            await client.get("/protected")
            response = await client.get("/protected")

        assert response.json() == {"token": "svc-token-2"}
        assert upstream.issued == ["svc-token-1", "svc-token-2"]

    async def test_a_401_fetches_a_new_token_once_and_repeats_the_request(
        self, upstream: Upstream, provider: ServiceTokenProvider
    ) -> None:
        async with ServiceClient(upstream.url, token_provider=provider) as client:
            await client.get("/protected")
            upstream.accepted.clear()  # e.g. its signing key was rotated away

            response = await client.get("/protected")

        assert response.json() == {"token": "svc-token-2"}
        assert upstream.calls["GET /protected"] == 3

    async def test_a_second_401_is_returned_instead_of_looping(
        self, upstream: Upstream, provider: ServiceTokenProvider
    ) -> None:
        upstream.accept_tokens = False

        async with ServiceClient(upstream.url, token_provider=provider) as client:
            response = await client.get("/protected")

        assert response.status_code == 401
        assert upstream.issued == ["svc-token-1", "svc-token-2"]
        assert upstream.calls["GET /protected"] == 2

    async def test_refused_credentials_are_upstream_unavailable(
        self, upstream: Upstream, http: httpx.AsyncClient
    ) -> None:
        wrong = ServiceTokenProvider(
            f"{upstream.url}/oauth/token", CLIENT_ID, "wrong-secret", client=http
        )

        with pytest.raises(UpstreamUnavailable) as caught:
            await wrong.token()

        assert caught.value.detail == "The auth service refused the service credentials (401)."

    async def test_an_unreachable_token_endpoint_is_upstream_unavailable(
        self, http: httpx.AsyncClient
    ) -> None:
        unreachable = ServiceTokenProvider(
            f"http://127.0.0.1:{free_port()}/oauth/token", CLIENT_ID, CLIENT_SECRET, client=http
        )

        with pytest.raises(UpstreamUnavailable):
            await unreachable.token()

    async def test_concurrent_callers_share_one_token_request(
        self, upstream: Upstream, provider: ServiceTokenProvider
    ) -> None:
        tokens = await asyncio.gather(*(provider.token() for _ in range(5)))

        assert tokens == ["svc-token-1"] * 5
        assert len(upstream.token_requests) == 1

    async def test_the_token_request_carries_the_request_id(
        self, upstream: Upstream, provider: ServiceTokenProvider
    ) -> None:
        token = request_id_var.set("req-token")
        try:
            await provider.token()
        finally:
            request_id_var.reset(token)

        assert upstream.token_requests[0]["request_id"] == "req-token"
