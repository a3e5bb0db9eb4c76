"""`serve_app`: an ASGI app on a real loopback port for the length of a block."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import httpx
import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from common.testing import free_port, serve_app


async def hello(request: Request) -> JSONResponse:
    return JSONResponse({"hello": request.app.state.greeting})


def make_app() -> Starlette:
    @asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        app.state.greeting = "from lifespan"
        yield

    app = Starlette(routes=[Route("/", hello)], lifespan=lifespan)
    app.state.greeting = "without lifespan"
    return app


class TestServeApp:
    async def test_serves_over_real_http_until_the_block_ends(self) -> None:
        async with httpx.AsyncClient() as client:
            async with serve_app(make_app()) as base_url:
                response = await client.get(f"{base_url}/")

            assert response.json() == {"hello": "without lifespan"}
            assert base_url.startswith("http://127.0.0.1:")
            with pytest.raises(httpx.ConnectError):
                await client.get(f"{base_url}/")

    async def test_runs_the_lifespan_when_asked(self) -> None:
        async with serve_app(make_app(), lifespan=True) as base_url, httpx.AsyncClient() as client:
            response = await client.get(f"{base_url}/")

        assert response.json() == {"hello": "from lifespan"}


class TestFreePort:
    async def test_nothing_listens_on_a_free_port(self) -> None:
        async with httpx.AsyncClient() as client:
            with pytest.raises(httpx.ConnectError):
                await client.get(f"http://127.0.0.1:{free_port()}/")
