"""The middleware every service runs, as `create_service_app` wires it: request ids, timing,
security headers, trusted hosts, CORS, compression and the limit on request headers."""

from __future__ import annotations

import logging
import re
from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager

import httpx
import pytest
from fastapi import APIRouter, FastAPI
from fastapi.responses import JSONResponse

from common.context import get_request_id
from common.testing import assert_error, serve_app

AppFactory = Callable[..., FastAPI]
ClientOpener = Callable[[FastAPI], AbstractAsyncContextManager[httpx.AsyncClient]]

STRONG_KEY = "p" * 48
ORIGIN = "https://app.example.com"

router = APIRouter()


@router.get("/ping")
async def ping() -> dict[str, str | None]:
    return {"request_id": get_request_id()}


@router.get("/cacheable")
async def cacheable() -> JSONResponse:
    return JSONResponse({"ok": True}, headers={"Cache-Control": "public, max-age=300"})


@router.get("/large")
async def large() -> dict[str, str]:
    return {"text": "lorem ipsum " * 400}


@router.post("/echo")
async def echo(body: dict[str, str]) -> dict[str, str]:
    return body


@pytest.fixture
async def client(make_app: AppFactory, running: ClientOpener) -> AsyncIterator[httpx.AsyncClient]:
    async with running(make_app(routers=[router])) as http:
        yield http


class TestRequestId:
    async def test_a_new_id_is_made_when_the_caller_sends_none(
        self, client: httpx.AsyncClient
    ) -> None:
        response = await client.get("/api/v1/ping")

        assert re.fullmatch(r"[0-9a-f]{32}", response.headers["x-request-id"])

    async def test_every_request_gets_its_own_id(self, client: httpx.AsyncClient) -> None:
        first = await client.get("/api/v1/ping")
        second = await client.get("/api/v1/ping")

        assert first.headers["x-request-id"] != second.headers["x-request-id"]

    @pytest.mark.parametrize(
        "incoming", ["abc-123", "trace.id:7_x", "a" * 128, "0f8fad5b-d9cb-469f-a165-70867728950e"]
    )
    async def test_a_well_formed_incoming_id_is_echoed(
        self, client: httpx.AsyncClient, incoming: str
    ) -> None:
        response = await client.get("/api/v1/ping", headers={"X-Request-ID": incoming})

        assert response.headers["x-request-id"] == incoming
        assert response.json() == {"request_id": incoming}

    @pytest.mark.parametrize(
        "incoming", ["has spaces", "a" * 129, "x" * 200, "semi;colon", 'quote"d', "<script>"]
    )
    async def test_a_malformed_incoming_id_is_replaced(
        self, client: httpx.AsyncClient, incoming: str
    ) -> None:
        response = await client.get("/api/v1/ping", headers={"X-Request-ID": incoming})

        request_id = response.headers["x-request-id"]
        assert request_id != incoming
        assert re.fullmatch(r"[0-9a-f]{32}", request_id)
        assert response.json() == {"request_id": request_id}

    async def test_the_route_sees_the_id_of_its_request(self, client: httpx.AsyncClient) -> None:
        response = await client.get("/api/v1/ping")

        assert response.json() == {"request_id": response.headers["x-request-id"]}

    async def test_the_id_does_not_outlive_the_request(self, client: httpx.AsyncClient) -> None:
        await client.get("/api/v1/ping", headers={"X-Request-ID": "leak-check"})

        assert get_request_id() is None

    async def test_error_answers_carry_the_id_too(self, client: httpx.AsyncClient) -> None:
        response = await client.get("/api/v1/missing", headers={"X-Request-ID": "err-1"})

        error = assert_error(response, 404, "not_found")
        assert error["request_id"] == "err-1"


class TestServerTiming:
    async def test_every_answer_says_how_long_the_app_took(self, client: httpx.AsyncClient) -> None:
        response = await client.get("/api/v1/ping")

        assert re.fullmatch(r"app;dur=\d+\.\d", response.headers["server-timing"])

    async def test_error_answers_are_timed_too(self, client: httpx.AsyncClient) -> None:
        response = await client.get("/api/v1/missing")

        assert re.fullmatch(r"app;dur=\d+\.\d", response.headers["server-timing"])


class TestAccessLog:
    @pytest.fixture
    async def logged_client(
        self, make_app: AppFactory, running: ClientOpener
    ) -> AsyncIterator[httpx.AsyncClient]:
        async with running(make_app(routers=[router], access_log=True)) as http:
            yield http

    async def test_one_line_per_request_with_method_path_status_and_duration(
        self, logged_client: httpx.AsyncClient, caplog: pytest.LogCaptureFixture
    ) -> None:
        caplog.set_level(logging.INFO, logger="access")

        response = await logged_client.get("/api/v1/ping", headers={"X-Request-ID": "acc-1"})

        [record] = [r for r in caplog.records if r.name == "access"]
        assert re.fullmatch(r'127\.0\.0\.1 "GET /api/v1/ping" 200 \d+\.\dms', record.getMessage())
        assert getattr(record, "request_id", None) == response.headers["x-request-id"]

    async def test_the_line_carries_the_status_of_an_error(
        self, logged_client: httpx.AsyncClient, caplog: pytest.LogCaptureFixture
    ) -> None:
        caplog.set_level(logging.INFO, logger="access")

        await logged_client.get("/api/v1/missing")

        [record] = [r for r in caplog.records if r.name == "access"]
        assert '"GET /api/v1/missing" 404' in record.getMessage()

    async def test_no_line_when_access_log_is_off(
        self, client: httpx.AsyncClient, caplog: pytest.LogCaptureFixture
    ) -> None:
        caplog.set_level(logging.INFO, logger="access")

        await client.get("/api/v1/ping")

        assert [r for r in caplog.records if r.name == "access"] == []


class TestSecurityHeaders:
    async def test_api_answers_carry_the_security_headers(self, client: httpx.AsyncClient) -> None:
        response = await client.get("/api/v1/ping")

        assert response.headers["x-content-type-options"] == "nosniff"
        assert response.headers["x-frame-options"] == "DENY"
        assert response.headers["referrer-policy"] == "no-referrer"
        assert response.headers["cross-origin-opener-policy"] == "same-origin"
        assert response.headers["cross-origin-resource-policy"] == "same-origin"
        assert response.headers["content-security-policy"] == (
            "default-src 'none'; frame-ancestors 'none'"
        )

    async def test_answers_are_not_stored_by_caches(self, client: httpx.AsyncClient) -> None:
        response = await client.get("/api/v1/ping")

        assert response.headers["cache-control"] == "no-store"

    async def test_error_answers_are_not_stored_either(self, client: httpx.AsyncClient) -> None:
        response = await client.get("/api/v1/missing")

        assert response.headers["cache-control"] == "no-store"
        assert response.headers["x-content-type-options"] == "nosniff"

    async def test_a_route_may_choose_its_own_cache_control(
        self, client: httpx.AsyncClient
    ) -> None:
        response = await client.get("/api/v1/cacheable")

        assert response.headers.get_list("cache-control") == ["public, max-age=300"]

    async def test_what_the_docs_load_gets_a_policy_of_the_service_itself_only(
        self, client: httpx.AsyncClient
    ) -> None:
        # The pages send their own, the same with their inline script's hash (common.docs).
        response = await client.get("/docs/assets/swagger-ui.css")

        assert response.status_code == 200
        assert response.headers["content-security-policy"] == (
            "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
            "connect-src 'self'; frame-ancestors 'none'"
        )

    async def test_no_hsts_outside_production(self, client: httpx.AsyncClient) -> None:
        response = await client.get("/api/v1/ping")

        assert "strict-transport-security" not in response.headers

    async def test_hsts_in_production(self, make_app: AppFactory, running: ClientOpener) -> None:
        app = make_app(
            routers=[router],
            environment="production",
            secret_key=STRONG_KEY,
            trusted_hosts=["testserver"],
            jwt_issuer="https://auth.example.com",
        )
        async with running(app) as client:
            response = await client.get("/api/v1/ping")

        assert response.headers["strict-transport-security"] == (
            "max-age=63072000; includeSubDomains"
        )


class TestTrustedHosts:
    @pytest.fixture
    async def guarded(
        self, make_app: AppFactory, running: ClientOpener
    ) -> AsyncIterator[httpx.AsyncClient]:
        app = make_app(routers=[router], trusted_hosts=["api.example.com", "*.example.org"])
        async with running(app) as http:
            yield http

    @pytest.mark.parametrize("host", ["api.example.com", "api.example.com:8443", "eu.example.org"])
    async def test_listed_hosts_pass(self, guarded: httpx.AsyncClient, host: str) -> None:
        response = await guarded.get("/api/v1/ping", headers={"Host": host})

        assert response.status_code == 200

    @pytest.mark.parametrize(
        "host", ["evil.com", "api.example.com.evil.com", "example.org", "evilexample.org"]
    )
    async def test_other_hosts_are_refused_with_the_json_error(
        self, guarded: httpx.AsyncClient, host: str
    ) -> None:
        response = await guarded.get("/api/v1/ping", headers={"Host": host})

        error = assert_error(response, 400, "invalid_host")
        assert error["message"] == "The Host header is not allowed."
        assert response.headers["cache-control"] == "no-store"

    async def test_health_is_guarded_too(self, guarded: httpx.AsyncClient) -> None:
        response = await guarded.get("/health", headers={"Host": "evil.com"})

        assert_error(response, 400, "invalid_host")

    async def test_any_host_passes_when_the_list_is_a_wildcard(
        self, client: httpx.AsyncClient
    ) -> None:
        response = await client.get("/api/v1/ping", headers={"Host": "anything.test"})

        assert response.status_code == 200


class TestCors:
    @pytest.fixture
    async def cors_client(
        self, make_app: AppFactory, running: ClientOpener
    ) -> AsyncIterator[httpx.AsyncClient]:
        async with running(make_app(routers=[router], cors_origins=[ORIGIN])) as http:
            yield http

    @pytest.mark.parametrize(
        "requested",
        [
            pytest.param("authorization, content-type, x-request-id", id="api-call"),
            # The Authorize dialog of another service's docs posts the password form to auth.
            pytest.param("authorization, x-requested-with", id="swagger-ui-sign-in"),
        ],
    )
    async def test_preflight_from_a_configured_origin_is_allowed(
        self, cors_client: httpx.AsyncClient, requested: str
    ) -> None:
        response = await cors_client.options(
            "/api/v1/echo",
            headers={
                "Origin": ORIGIN,
                "Access-Control-Request-Method": "POST",
                "Access-Control-Request-Headers": requested,
            },
        )

        assert response.status_code == 200
        assert response.headers["access-control-allow-origin"] == ORIGIN
        assert "POST" in response.headers["access-control-allow-methods"]
        allowed = response.headers["access-control-allow-headers"].lower()
        assert {h.strip() for h in requested.split(",")} <= {h.strip() for h in allowed.split(",")}
        assert response.headers["access-control-max-age"] == "600"

    async def test_preflight_from_another_origin_is_refused(
        self, cors_client: httpx.AsyncClient
    ) -> None:
        response = await cors_client.options(
            "/api/v1/echo",
            headers={"Origin": "https://evil.example", "Access-Control-Request-Method": "POST"},
        )

        assert response.status_code == 400
        assert "access-control-allow-origin" not in response.headers

    async def test_answers_expose_the_request_id_to_the_allowed_origin(
        self, cors_client: httpx.AsyncClient
    ) -> None:
        response = await cors_client.get("/api/v1/ping", headers={"Origin": ORIGIN})

        assert response.headers["access-control-allow-origin"] == ORIGIN
        exposed = response.headers["access-control-expose-headers"].lower()
        assert "x-request-id" in exposed
        assert "retry-after" in exposed

    async def test_no_cors_headers_without_configured_origins(
        self, client: httpx.AsyncClient
    ) -> None:
        response = await client.get("/api/v1/ping", headers={"Origin": ORIGIN})

        assert "access-control-allow-origin" not in response.headers


class TestCompression:
    async def test_large_answers_are_gzipped(self, client: httpx.AsyncClient) -> None:
        response = await client.get("/api/v1/large", headers={"Accept-Encoding": "gzip"})

        assert response.headers["content-encoding"] == "gzip"
        assert int(response.headers["content-length"]) < len(response.content)
        assert response.json() == {"text": "lorem ipsum " * 400}

    async def test_small_answers_are_sent_as_they_are(self, client: httpx.AsyncClient) -> None:
        response = await client.get("/api/v1/ping", headers={"Accept-Encoding": "gzip"})

        assert "content-encoding" not in response.headers

    async def test_clients_that_do_not_accept_gzip_get_plain_bodies(
        self, client: httpx.AsyncClient
    ) -> None:
        response = await client.get("/api/v1/large", headers={"Accept-Encoding": "identity"})

        assert "content-encoding" not in response.headers
        assert len(response.content) > 4000


class TestHeaderSizeLimit:
    """Against real uvicorn: the server itself (httptools) takes megabytes of headers."""

    @pytest.fixture
    async def served(self, make_app: AppFactory, running: ClientOpener) -> AsyncIterator[str]:
        app = make_app(routers=[router], max_headers_size=4096, max_header_field_size=1024)
        async with running(app), serve_app(app) as base_url:
            yield base_url

    async def test_a_two_megabyte_header_is_431_with_the_json_error(
        self, make_app: AppFactory, running: ClientOpener
    ) -> None:
        app = make_app(routers=[router])  # the default limits
        async with running(app), serve_app(app) as base_url, httpx.AsyncClient() as client:
            response = await client.get(
                f"{base_url}/api/v1/ping", headers={"X-Padding": "z" * (2 * 1024 * 1024)}
            )

        error = assert_error(response, 431, "headers_too_large")
        assert "8192" in error["message"]
        assert response.headers["cache-control"] == "no-store"
        assert "zzzz" not in response.text  # not hex: the random request id cannot hold it

    async def test_one_header_over_the_field_limit_is_431(self, served: str) -> None:
        async with httpx.AsyncClient() as client:
            response = await client.get(f"{served}/api/v1/ping", headers={"X-Padding": "a" * 1025})

        error = assert_error(response, 431, "headers_too_large")
        assert error["message"] == "A request header is larger than 1024 bytes."

    async def test_headers_over_the_total_limit_are_431(self, served: str) -> None:
        # Each header within the field limit, together over the total.
        headers = {f"X-Padding-{n}": "a" * 900 for n in range(5)}
        async with httpx.AsyncClient() as client:
            response = await client.get(f"{served}/api/v1/ping", headers=headers)

        error = assert_error(response, 431, "headers_too_large")
        assert error["message"] == "The request headers are larger than 4096 bytes."

    async def test_headers_within_both_limits_pass(self, served: str) -> None:
        headers = {f"X-Padding-{n}": "a" * 900 for n in range(3)}
        async with httpx.AsyncClient() as client:
            response = await client.get(f"{served}/api/v1/ping", headers=headers)

        assert response.status_code == 200
        assert response.json()["request_id"] == response.headers["x-request-id"]

    async def test_the_route_does_not_run(self, served: str) -> None:
        async with httpx.AsyncClient() as client:
            response = await client.post(
                f"{served}/api/v1/echo", json={"a": "b"}, headers={"X-Padding": "a" * 2048}
            )

        assert_error(response, 431, "headers_too_large")
