"""Serve an ASGI app with uvicorn on a loopback port, inside the test's event loop
(`serve_app`) or in a thread of its own for synchronous clients (`ThreadedServer`): real
sockets, real HTTP, no separate process to wait for."""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import socket
import threading
from collections.abc import AsyncIterator, Coroutine
from contextlib import asynccontextmanager
from types import TracebackType
from typing import Any, Self, TypeVar

import uvicorn
from starlette.types import ASGIApp

T = TypeVar("T")


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@asynccontextmanager
async def serve_app(app: ASGIApp, *, lifespan: bool = False, port: int = 0) -> AsyncIterator[str]:
    """Yield the base URL of `app` served on a loopback port until the block exits: a free one,
    or `port` (from `free_port()`) when another app's settings had to name it first."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", port))
    port = sock.getsockname()[1]
    # No proxy headers, as the services run (common.client decides whom to believe).
    config = uvicorn.Config(
        app,
        lifespan="on" if lifespan else "off",
        log_config=None,
        access_log=False,
        proxy_headers=False,
    )
    server = uvicorn.Server(config)
    task = asyncio.create_task(server.serve(sockets=[sock]))
    try:
        while not server.started:
            if task.done():
                task.result()
                raise RuntimeError("uvicorn stopped before it started")
            await asyncio.sleep(0.01)
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        await task
        sock.close()


class ThreadedServer:
    """`app` served by uvicorn on a loopback port from an event loop in a thread of its own, for
    callers that block: a synchronous HTTP client (schemathesis sends with `requests`) would
    freeze a server that shares its event loop. `run(coro)` runs a coroutine in the server's
    loop and waits for its result: what the app made in its lifespan (engines, pools) belongs to
    that loop and can be used only there.

        with ThreadedServer(app, lifespan=True) as server:
            requests.get(f"{server.url}/health")
            server.run(do_something_with(service_core(app).database))
    """

    def __init__(self, app: ASGIApp, *, lifespan: bool = False, timeout: float = 30.0) -> None:
        self.app = app
        self.lifespan = lifespan
        self.timeout = timeout
        self.url = ""
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._main, name="threaded-server", daemon=True)
        self._started: concurrent.futures.Future[str] = concurrent.futures.Future()
        self._stop: asyncio.Event | None = None
        self._error: BaseException | None = None

    def run(self, coro: Coroutine[Any, Any, T]) -> T:
        """The result of `coro`, run in the server's event loop."""
        return asyncio.run_coroutine_threadsafe(coro, self._loop).result(self.timeout)

    async def _serve(self) -> None:
        self._stop = asyncio.Event()
        async with serve_app(self.app, lifespan=self.lifespan) as url:
            self._started.set_result(url)
            await self._stop.wait()

    def _main(self) -> None:
        asyncio.set_event_loop(self._loop)
        try:
            self._loop.run_until_complete(self._serve())
        except BaseException as exc:  # noqa: BLE001 (uvicorn's failed start-up is a SystemExit)
            self._error = exc
            if not self._started.done():
                self._started.set_exception(RuntimeError(f"the server did not start: {exc!r}"))
        finally:
            pending = asyncio.all_tasks(self._loop)
            for task in pending:
                task.cancel()
            # What is left of a failed start-up may raise the SystemExit again while unwinding.
            with contextlib.suppress(BaseException):
                self._loop.run_until_complete(asyncio.gather(*pending, return_exceptions=True))
            self._loop.run_until_complete(self._loop.shutdown_asyncgens())
            self._loop.close()

    def __enter__(self) -> Self:
        self._thread.start()
        try:
            self.url = self._started.result(self.timeout)
        except BaseException:
            self._shut_down()
            raise
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self._shut_down()
        if self._error is not None and exc is None:
            raise RuntimeError("the server failed while stopping") from self._error

    def _shut_down(self) -> None:
        if self._stop is not None and not self._loop.is_closed():
            with contextlib.suppress(RuntimeError):  # the loop closed meanwhile
                self._loop.call_soon_threadsafe(self._stop.set)
        self._thread.join(self.timeout)
