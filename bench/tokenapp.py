"""The bench-only service of the token-check benchmark: `uvicorn bench.tokenapp:create_app`.

Built with `common.app.create_service_app`, so it has the middleware, error handlers and metrics
of every real service. Two routes differ only in `require_permission(...)`, which isolates the
cost of the check (bearer parsing, verification, permission test). Auth's own app would add its
database-backed JWKS and its lifespan work to the picture; this app gets the JWKS that the
benchmark generated, from the file named by BENCH_JWKS_FILE.
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from fastapi import APIRouter, FastAPI
from pydantic import BaseModel

from common.app import create_service_app
from common.security import JwksSource, require_permission
from common.settings import ServiceSettings

PERMISSION = "bench:read"
OPEN_PATH = "/api/v1/bench/open"
GUARDED_PATH = "/api/v1/bench/guarded"

router = APIRouter(prefix="/bench", tags=["bench"])


class Pong(BaseModel):
    ok: bool = True


@router.get("/open", response_model=Pong)
async def open_route() -> Pong:
    return Pong()


@router.get("/guarded", response_model=Pong, dependencies=[require_permission(PERMISSION)])
async def guarded_route() -> Pong:
    return Pong()


def _file_jwks(path: Path) -> JwksSource:
    document: dict[str, Any] = json.loads(path.read_text())

    async def fetch() -> Mapping[str, Any]:
        return document

    return fetch


def create_app() -> FastAPI:
    settings = ServiceSettings(service_name="bench-token")
    source = _file_jwks(Path(os.environ["BENCH_JWKS_FILE"]))
    return create_service_app(
        settings,
        title="Bench token service",
        description="Two trivial routes, one behind require_permission.",
        routers=[router],
        jwks_source=lambda _settings, _database: source,
    )
