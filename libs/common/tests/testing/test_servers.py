"""`serve_app` and `ThreadedServer`: an ASGI app on a real loopback port for the length of a
block, in the test's event loop or in a thread of its own."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import httpx
import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from common.testing import ThreadedServer, free_port, serve_app


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


class TestThreadedServer:
    def test_serves_a_blocking_client_until_the_block_ends(self) -> None:
        with httpx.Client() as client:
            with ThreadedServer(make_app(), lifespan=True) as server:
                response = client.get(f"{server.url}/")

            assert response.json() == {"hello": "from lifespan"}
            assert server.url.startswith("http://127.0.0.1:")
            with pytest.raises(httpx.ConnectError):
                client.get(f"{server.url}/")

    def test_runs_coroutines_in_the_servers_loop_and_thread(self) -> None:
        async def where() -> tuple[asyncio.AbstractEventLoop, threading.Thread]:
            return asyncio.get_running_loop(), threading.current_thread()

        with ThreadedServer(make_app()) as server:
            loop, thread = server.run(where())

        assert thread is not threading.current_thread()
        assert loop.is_closed()  # the server's own loop, closed with it

    def test_a_coroutine_that_fails_raises_in_the_caller(self) -> None:
        async def fail() -> None:
            raise LookupError("from the server's loop")

        with ThreadedServer(make_app()) as server, pytest.raises(LookupError):
            server.run(fail())

    def test_an_app_that_cannot_start_raises_and_leaves_no_thread(self) -> None:
        def refuse() -> None:
            raise RuntimeError("cannot start")

        @asynccontextmanager
        async def lifespan(app: Starlette) -> AsyncIterator[None]:
            refuse()
            yield

        threads = threading.active_count()
        with (
            pytest.raises(RuntimeError),
            ThreadedServer(Starlette(lifespan=lifespan), lifespan=True),
        ):
            pass

        assert threading.active_count() == threads


class TestFreePort:
    async def test_nothing_listens_on_a_free_port(self) -> None:
        async with httpx.AsyncClient() as client:
            with pytest.raises(httpx.ConnectError):
                await client.get(f"http://127.0.0.1:{free_port()}/")
