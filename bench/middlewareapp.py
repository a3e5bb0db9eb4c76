"""The bench-only apps of the middleware-cost benchmark: `uvicorn bench.middlewareapp:<factory>`.

The same trivial route four ways: on a bare `FastAPI()` (`create_bare`), on
`common.app.create_service_app` with everything on (`create_full`: production settings from the
environment, so trusted hosts, CORS origins, metrics, security headers, limits and GZip), on
the same app with its middleware taken off (`create_unwrapped`), which separates what the
middleware costs from what the rest of the factory's app costs (its routes, error handlers),
and on the bare app sending the headers the full one adds (`create_bare_with_headers`), which
separates what writing those headers costs the server from the middleware's own work.
The route needs no database, Redis or token: only the request's way through the app is measured.
"""

from __future__ import annotations

from fastapi import APIRouter, FastAPI
from pydantic import BaseModel
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from common.app import create_service_app
from common.middleware import REQUEST_ID_HEADER, content_security_policy, with_security_headers
from common.settings import ServiceSettings

PING_PATH = "/api/v1/bench/ping"

router = APIRouter(prefix="/bench", tags=["bench"])


class Pong(BaseModel):
    ok: bool = True


@router.get("/ping", response_model=Pong)
async def ping() -> Pong:
    return Pong()


def create_bare() -> FastAPI:
    app = FastAPI()
    app.include_router(router, prefix="/api/v1")

    @app.get("/health", response_model=Pong)
    async def health() -> Pong:  # the benchmark's servers are ready once /health answers
        return Pong()

    return app


def create_full() -> FastAPI:
    return create_service_app(
        ServiceSettings(service_name="bench-middleware"),
        title="Bench middleware service",
        description="One trivial route behind the shared middleware.",
        routers=[router],
    )


def create_unwrapped() -> FastAPI:
    app = create_full()
    app.user_middleware.clear()
    return app


class _AppendHeaders:
    """The least an ASGI app can do to add headers: append a list built once."""

    def __init__(self, app: ASGIApp, headers: list[tuple[bytes, bytes]]) -> None:
        self.app = app
        self.headers = headers

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                message["headers"] = [*message.get("headers", []), *self.headers]
            await send(message)

        await self.app(scope, receive, send_with_headers)


def create_bare_with_headers() -> ASGIApp:
    """`create_bare` answering with the headers `create_full` adds to the route's answer in
    production: `Vary: Origin` (CORS on), the security headers with HSTS, a request id and
    `Server-Timing` (fixed values of the same length)."""
    added = [(b"vary", b"Origin")]
    added += with_security_headers([], csp=content_security_policy("/", ()), hsts=True)
    added += [(REQUEST_ID_HEADER.lower().encode(), b"0" * 32), (b"server-timing", b"app;dur=0.1")]
    return _AppendHeaders(create_bare(), added)
