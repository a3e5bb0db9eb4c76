"""The bench-only apps of the middleware-cost benchmark: `uvicorn bench.middlewareapp:<factory>`.

The same trivial route three ways: on a bare `FastAPI()` (`create_bare`), on
`common.app.create_service_app` with everything on (`create_full`: production settings from the
environment, so trusted hosts, CORS origins, metrics, security headers, limits and GZip), and on
the same app with its middleware taken off (`create_unwrapped`), which separates what the
middleware costs from what the rest of the factory's app costs (its routes, error handlers).
The route needs no database, Redis or token: only the request's way through the app is measured.
"""

from __future__ import annotations

from fastapi import APIRouter, FastAPI
from pydantic import BaseModel

from common.app import create_service_app
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
