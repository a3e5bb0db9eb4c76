"""`ServiceMiddleware`, the one pass `create_service_app` installs: every answer is the one the
separate layers (`common.middleware`, Starlette's CORS and GZip, `common.metrics`, the error
guard) gave, header for header, and the short cuts it takes are pinned on their own."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Iterator
from typing import Any

import httpx
import pytest
from fastapi import APIRouter, FastAPI
from fastapi.middleware.cors import CORSMiddleware
from fastapi.middleware.gzip import GZipMiddleware
from fastapi.responses import JSONResponse, StreamingResponse
from prometheus_client import CollectorRegistry
from starlette.middleware import Middleware

from common.error_handlers import UnhandledErrorMiddleware
from common.metrics import HttpMetrics, MetricsMiddleware
from common.middleware import (
    REQUEST_ID_HEADER,
    BodySizeLimitMiddleware,
    HeaderSizeLimitMiddleware,
    RequestContextMiddleware,
    SecurityHeadersMiddleware,
    TrustedHostMiddleware,
)

AppFactory = Callable[..., FastAPI]

ORIGIN = "https://app.example.com"
HOSTS = ["testserver", "*.example.com"]
LARGE = "lorem ipsum " * 400

router = APIRouter()


@router.get("/ping")
async def ping() -> dict[str, bool]:
    return {"ok": True}


@router.get("/large")
async def large() -> dict[str, str]:
    return {"text": LARGE}


@router.get("/cacheable")
async def cacheable() -> JSONResponse:
    return JSONResponse(
        {"ok": True}, headers={"Cache-Control": "public, max-age=300", "Vary": "Authorization"}
    )


@router.get("/stream")
async def stream() -> StreamingResponse:
    def chunks() -> Iterator[bytes]:
        yield b"small"
        yield b"x" * 2000

    return StreamingResponse(chunks(), media_type="text/plain")


@router.get("/image")
async def image() -> JSONResponse:
    return JSONResponse({"png": LARGE}, media_type="image/png")


@router.post("/echo")
async def echo(body: dict[str, str]) -> dict[str, str]:
    return body


@router.get("/boom")
async def boom() -> None:
    raise RuntimeError("boom")


def _separate_layers(registry: CollectorRegistry, *, cors: bool) -> list[Middleware]:
    """The stack `create_service_app` installed before the merge, outermost first (CORS only
    where origins were configured)."""
    layers = [
        Middleware(RequestContextMiddleware, access_log=False),
        Middleware(SecurityHeadersMiddleware, docs_paths=("/docs", "/redoc")),
        Middleware(HeaderSizeLimitMiddleware, max_total_bytes=16 * 1024, max_field_bytes=8 * 1024),
        Middleware(TrustedHostMiddleware, allowed_hosts=HOSTS),
        Middleware(
            CORSMiddleware,
            allow_origins=[ORIGIN],
            allow_methods=["GET", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"],
            allow_headers=["Authorization", "Content-Type", REQUEST_ID_HEADER, "X-Requested-With"],
            expose_headers=[REQUEST_ID_HEADER, "Retry-After"],
            max_age=600,
        ),
        Middleware(MetricsMiddleware, metrics=HttpMetrics(registry), exclude=("/metrics",)),
        Middleware(BodySizeLimitMiddleware, max_bytes=1024 * 1024),
        Middleware(GZipMiddleware, minimum_size=1024),
        Middleware(UnhandledErrorMiddleware),
    ]
    cors_layer: object = CORSMiddleware
    return [layer for layer in layers if cors or layer.cls is not cors_layer]


@pytest.fixture(params=[True, False], ids=["cors-on", "cors-off"])
async def clients(
    make_app: AppFactory, request: pytest.FixtureRequest
) -> AsyncIterator[tuple[httpx.AsyncClient, ...]]:
    cors: bool = request.param
    origins = [ORIGIN] if cors else []
    settings = {"trusted_hosts": HOSTS, "cors_origins": origins, "access_log": False}
    merged = make_app(routers=[router], **settings)
    separate = make_app(routers=[router], **settings)
    separate.user_middleware = _separate_layers(CollectorRegistry(), cors=cors)
    opened = []
    for app in (merged, separate):
        transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
        opened.append(httpx.AsyncClient(transport=transport, base_url="http://testserver"))
    try:
        yield tuple(opened)
    finally:
        for client in opened:
            await client.aclose()


def _comparable(
    response: httpx.Response, *, masked: tuple[bytes, ...] = (b"server-timing",)
) -> tuple[int, list[tuple[bytes, bytes]], bytes]:
    """Status, headers in order (the values of `masked` hidden) and the body as sent."""
    headers = [(name, b"-" if name in masked else value) for name, value in response.headers.raw]
    return response.status_code, headers, response.content


ID = {REQUEST_ID_HEADER: "fixed-id"}
BROWSER = {**ID, "Origin": ORIGIN, "Accept-Encoding": "gzip, deflate"}
REQUESTS: list[tuple[str, str, dict[str, Any]]] = [
    ("GET", "/api/v1/ping", {"headers": ID}),
    ("GET", "/api/v1/ping", {"headers": BROWSER}),
    ("GET", "/api/v1/ping", {"headers": {**ID, "Origin": "https://evil.example"}}),
    ("GET", "/api/v1/large", {"headers": {**ID, "Accept-Encoding": "identity"}}),
    ("GET", "/api/v1/large", {"headers": BROWSER}),
    ("GET", "/api/v1/cacheable", {"headers": BROWSER}),
    ("GET", "/api/v1/stream", {"headers": BROWSER}),
    ("GET", "/api/v1/stream", {"headers": ID}),
    ("GET", "/api/v1/image", {"headers": BROWSER}),
    ("GET", "/api/v1/missing", {"headers": BROWSER}),
    ("GET", "/health", {"headers": ID}),
    ("GET", "/docs", {"headers": ID}),
    ("GET", "/metrics", {"headers": ID}),
    ("GET", "/api/v1/boom", {"headers": BROWSER}),
    ("POST", "/api/v1/echo", {"headers": BROWSER, "json": {"a": "b"}}),
    ("POST", "/api/v1/echo", {"headers": ID, "content": b"{"}),
    (
        "POST",
        "/api/v1/echo",
        {"headers": {**ID, "Content-Length": str(2 * 1024 * 1024)}, "content": b"{}"},
    ),
    (
        "OPTIONS",
        "/api/v1/echo",
        {"headers": {**BROWSER, "Access-Control-Request-Method": "POST"}},
    ),
    (
        "OPTIONS",
        "/api/v1/echo",
        {"headers": {**ID, "Origin": "https://evil.example", "Access-Control-Request-Method": "X"}},
    ),
    ("OPTIONS", "/api/v1/echo", {"headers": BROWSER}),
    ("GET", "/api/v1/ping", {"headers": {**BROWSER, "Host": "api.example.com"}}),
    ("GET", "/api/v1/ping", {"headers": {**BROWSER, "Host": "evil.example"}}),
    ("GET", "/api/v1/ping", {"headers": {**BROWSER, "X-Big": "x" * 9000}}),
    ("GET", "/api/v1/ping", {"headers": {**BROWSER, **{f"X-{i}": "y" * 4000 for i in range(5)}}}),
    ("GET", "/api/v1/ping", {"headers": {REQUEST_ID_HEADER: "bad id"}}),
]


class TestSameAnswersAsTheSeparateLayers:
    @pytest.mark.parametrize(
        ("method", "path", "options"),
        REQUESTS,
        ids=[f"{i}-{m}-{p}" for i, (m, p, _) in enumerate(REQUESTS)],
    )
    async def test_status_headers_and_body_are_the_same(
        self,
        clients: tuple[httpx.AsyncClient, httpx.AsyncClient],
        method: str,
        path: str,
        options: dict[str, Any],
    ) -> None:
        merged, separate = clients

        ours = await merged.request(method, path, **options)
        theirs = await separate.request(method, path, **options)

        masked: tuple[bytes, ...] = (b"server-timing",)
        if options["headers"].get(REQUEST_ID_HEADER) != "fixed-id":  # a new id each time
            masked = (*masked, b"x-request-id")
            assert ours.headers["x-request-id"] != "bad id"
        assert _comparable(ours, masked=masked) == _comparable(theirs, masked=masked)


@pytest.fixture
async def client(make_app: AppFactory) -> AsyncIterator[httpx.AsyncClient]:
    app = make_app(routers=[router], cors_origins=[ORIGIN], access_log=False)
    transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as http:
        yield http


class TestShortCuts:
    async def test_without_origin_an_answer_only_varies_on_origin(
        self, client: httpx.AsyncClient
    ) -> None:
        response = await client.get("/api/v1/ping")

        assert response.headers.get_list("vary") == ["Origin"]
        assert "access-control-allow-origin" not in response.headers

    async def test_the_origin_joins_the_vary_of_the_route_and_of_gzip(
        self, client: httpx.AsyncClient
    ) -> None:
        response = await client.get("/api/v1/large", headers={"Accept-Encoding": "gzip"})

        assert response.headers.get_list("vary") == ["Accept-Encoding, Origin"]

    async def test_a_small_declared_body_is_sent_as_it_is(self, client: httpx.AsyncClient) -> None:
        response = await client.get("/api/v1/ping", headers={"Accept-Encoding": "gzip"})

        assert "content-encoding" not in response.headers
        assert response.headers["content-length"] == str(len(b'{"ok":true}'))

    async def test_a_stream_without_a_length_is_compressed_from_its_first_chunk(
        self, client: httpx.AsyncClient
    ) -> None:
        response = await client.get("/api/v1/stream", headers={"Accept-Encoding": "gzip"})

        assert response.headers["content-encoding"] == "gzip"
        assert response.content == b"small" + b"x" * 2000

    async def test_a_large_answer_varies_on_encoding_even_when_not_compressed(
        self, client: httpx.AsyncClient
    ) -> None:
        response = await client.get("/api/v1/large", headers={"Accept-Encoding": "identity"})

        assert "content-encoding" not in response.headers
        assert response.headers.get_list("vary") == ["Accept-Encoding, Origin"]

    async def test_an_unhandled_error_is_the_json_500_with_every_header(
        self, client: httpx.AsyncClient
    ) -> None:
        response = await client.get("/api/v1/boom", headers={REQUEST_ID_HEADER: "err-1"})

        assert response.status_code == 500
        assert response.json()["error"] == {
            "code": "internal_error",
            "message": "An unexpected error occurred.",
            "request_id": "err-1",
        }
        assert response.headers["x-request-id"] == "err-1"
        assert response.headers["x-content-type-options"] == "nosniff"
        assert response.headers["server-timing"].startswith("app;dur=")
        assert response.headers.get_list("vary") == ["Origin"]

    async def test_errors_and_refusals_are_counted_by_status_class(
        self, client: httpx.AsyncClient
    ) -> None:
        await client.get("/api/v1/boom")
        await client.post(
            "/api/v1/echo", content=b"{}", headers={"Content-Length": str(2 * 1024 * 1024)}
        )

        text = (await client.get("/metrics")).text
        assert 'http_requests_total{handler="/api/v1/boom",method="GET",status="5xx"} 1.0' in text
        assert 'http_requests_total{handler="none",method="POST",status="4xx"} 1.0' in text
