"""Fixtures of the gateway's tests: two upstreams (`a`, `b`) served by uvicorn on loopback, and
the gateway in front of them, served the same way, with a client that talks HTTP to it."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from typing import Any

import httpx
import pytest

from common.testing import serve_app
from gateway.main import create_app
from gateway.settings import GatewaySettings
from gateway.testing import EchoUpstream, serve_upstream

ROUTES = {
    "/api/v1/things": "a",
    "/api/v1/things/special": "b",
    "/api/v1/other": "b",
    "/.well-known": "b",
}

GatewayOpener = Callable[..., AbstractAsyncContextManager[httpx.AsyncClient]]


def make_settings(upstreams: dict[str, Any], **overrides: Any) -> GatewaySettings:
    values: dict[str, Any] = {
        "environment": "test",
        "access_log": False,
        "log_level": "WARNING",
        "gateway_upstreams": upstreams,
        "gateway_routes": ROUTES,
    }
    values.update(overrides)
    return GatewaySettings(_env_file=None, **values)


@pytest.fixture
async def upstream_a() -> AsyncIterator[tuple[EchoUpstream, str]]:
    async with serve_upstream("a") as served:
        yield served


@pytest.fixture
async def upstream_b() -> AsyncIterator[tuple[EchoUpstream, str]]:
    async with serve_upstream("b") as served:
        yield served


@pytest.fixture
def gateway(
    upstream_a: tuple[EchoUpstream, str], upstream_b: tuple[EchoUpstream, str]
) -> GatewayOpener:
    """`async with gateway(**settings) as client:` the gateway before `a` and `b` (or the
    `upstreams` given), served on loopback, and an HTTP client of it."""

    @asynccontextmanager
    async def open_gateway(
        upstreams: dict[str, Any] | None = None, **overrides: Any
    ) -> AsyncIterator[httpx.AsyncClient]:
        upstreams = upstreams or {"a": {"url": upstream_a[1]}, "b": {"url": upstream_b[1]}}
        app = create_app(make_settings(upstreams, **overrides))
        async with (
            serve_app(app, lifespan=True) as url,
            httpx.AsyncClient(base_url=url, timeout=30) as client,
        ):
            yield client

    return open_gateway


@pytest.fixture
async def client(gateway: GatewayOpener) -> AsyncIterator[httpx.AsyncClient]:
    async with gateway() as client:
        yield client
