"""The bench-only service of the token-check benchmark (`uvicorn bench.tokenapp:create_app`),
and the throw-away key whose tokens it verifies.

Built with `common.app.create_service_app` (the middleware, error handlers and metrics of every
real service), its two routes differ only in `require_permission(...)`. Minting with auth would
measure auth too, so the benchmark signs tokens shaped like auth's (RS256, `typ: at+jwt`, the
claims `TokenVerifier` requires) and hands this app their JWKS in BENCH_JWKS."""

from __future__ import annotations

import json
import os
import secrets
from collections.abc import Mapping
from typing import Any

from fastapi import APIRouter, FastAPI
from pydantic import BaseModel

from bench.servers import ISSUER
from common.app import create_service_app
from common.security import require_permission
from common.settings import ServiceSettings
from common.testing.tokens import TokenMinter

PERMISSION = "bench:read"
OPEN_PATH = "/api/v1/bench/open"
GUARDED_PATH = "/api/v1/bench/guarded"
AUDIENCE = "api"

router = APIRouter(prefix="/bench", tags=["bench"])


class Pong(BaseModel):
    ok: bool = True


@router.get("/open", response_model=Pong)
async def open_route() -> Pong:
    return Pong()


@router.get("/guarded", response_model=Pong, dependencies=[require_permission(PERMISSION)])
async def guarded_route() -> Pong:
    return Pong()


def create_app() -> FastAPI:
    document: dict[str, Any] = json.loads(os.environ["BENCH_JWKS"])

    async def fetch() -> Mapping[str, Any]:
        return document

    return create_service_app(
        ServiceSettings(service_name="bench-token"),
        title="Bench token service",
        description="Two trivial routes, one behind require_permission.",
        routers=[router],
        jwks_source=lambda _settings, _database: fetch,
    )


def token_minter() -> TokenMinter:
    """A throw-away key that signs tokens this app accepts (its JWKS goes in BENCH_JWKS)."""
    return TokenMinter.generate(issuer=ISSUER, audience=AUDIENCE, kid=secrets.token_urlsafe(16))
