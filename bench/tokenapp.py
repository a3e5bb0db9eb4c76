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
import time
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import jwt
from cryptography.hazmat.primitives.asymmetric import rsa
from fastapi import APIRouter, FastAPI
from jwt.algorithms import RSAAlgorithm
from pydantic import BaseModel

from bench.servers import ISSUER
from common.app import create_service_app
from common.security import ALGORITHM, require_permission
from common.settings import ServiceSettings

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


@dataclass(frozen=True, slots=True)
class SigningKey:
    kid: str
    private_key: rsa.RSAPrivateKey

    @classmethod
    def generate(cls) -> SigningKey:
        key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        return cls(kid=secrets.token_urlsafe(16), private_key=key)

    def jwks(self) -> dict[str, Any]:
        jwk: dict[str, Any] = json.loads(RSAAlgorithm.to_jwk(self.private_key.public_key()))
        jwk.update({"kid": self.kid, "use": "sig", "alg": ALGORITHM})
        return {"keys": [jwk]}

    def access_token(self, *, permissions: list[str], ttl_seconds: int = 3600) -> str:
        now = int(time.time())
        claims = {
            "iss": ISSUER,
            "aud": AUDIENCE,
            "sub": str(uuid.uuid4()),
            "iat": now,
            "nbf": now,
            "exp": now + ttl_seconds,
            "jti": uuid.uuid4().hex,
            "client_id": "first-party",
            "sid": str(uuid.uuid4()),
            "roles": ["user"],
            "permissions": sorted(permissions),
        }
        headers = {"kid": self.kid, "typ": "at+jwt"}
        return jwt.encode(claims, self.private_key, algorithm=ALGORITHM, headers=headers)
