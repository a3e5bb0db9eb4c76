"""Settings of the gateway: the shared ones, its upstreams and its routing table.

`GATEWAY_UPSTREAMS` names each upstream service (base URL, timeouts) and `GATEWAY_ROUTES` maps
path prefixes to those names; both are JSON in the environment. The defaults are the
development stack of `make dev` (DESIGN.md §4: auth on :8001, activity on :8002). Paths are
forwarded unchanged: each service serves the same paths itself.
"""

from __future__ import annotations

from functools import lru_cache
from typing import Self
from urllib.parse import urlsplit

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from common.health import CHECK_TIMEOUT_SECONDS
from common.settings import ServiceSettings

AUTH = "auth"
ACTIVITY = "activity"


class Upstream(BaseModel):
    """One service behind the gateway: where it listens and how long it may take."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    # scheme://host[:port], no path: the gateway appends the request's path unchanged.
    url: str
    # Seconds to get a connection: a free one of the pool, or a new one connected.
    connect_timeout: float = Field(default=2.0, gt=0, le=60)
    # Seconds the upstream may stay silent: before its answer starts, and between two pieces
    # of its body (not the whole answer: a long download that keeps flowing is fine).
    read_timeout: float = Field(default=30.0, gt=0, le=3600)

    @field_validator("url")
    @classmethod
    def _a_base_url(cls, url: str) -> str:
        parts = urlsplit(url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ValueError(f"{url!r} is not an http(s) URL with a host")
        if parts.path not in ("", "/") or parts.query or parts.fragment or parts.username:
            raise ValueError(
                f"{url!r} has a path, query or user: give scheme://host[:port] only "
                "(paths are forwarded unchanged)"
            )
        try:
            parts.port  # noqa: B018 (raises ValueError on a port that is not one)
        except ValueError as exc:
            raise ValueError(f"{url!r} has an invalid port") from exc
        return url.rstrip("/")


def _default_upstreams() -> dict[str, Upstream]:
    return {
        AUTH: Upstream(url="http://127.0.0.1:8001"),
        ACTIVITY: Upstream(url="http://127.0.0.1:8002"),
    }


def _default_routes() -> dict[str, str]:
    """DESIGN.md §4: who owns which paths."""
    return {
        "/api/v1/auth": AUTH,
        "/api/v1/users": AUTH,
        "/api/v1/roles": AUTH,
        "/api/v1/permissions": AUTH,
        "/.well-known": AUTH,
        "/api/v1/activity": ACTIVITY,
    }


class GatewaySettings(ServiceSettings):
    service_name: str = "gateway"

    gateway_upstreams: dict[str, Upstream] = Field(default_factory=_default_upstreams)
    # Path prefix -> upstream name. A prefix matches itself and what follows it after a `/`
    # (`/api/v1/users` matches `/api/v1/users/7`, not `/api/v1/usersx`); the longest wins.
    gateway_routes: dict[str, str] = Field(default_factory=_default_routes)
    # Connections kept to each upstream (host and port), busy and idle together.
    upstream_max_connections: int = Field(default=100, ge=1, le=10_000)
    # An idle pooled connection is closed after this many seconds: shorter than the upstream
    # server's own keep-alive (uvicorn's is 5 s), so the gateway never sends a request on a
    # connection the server is closing.
    upstream_keepalive_seconds: float = Field(default=4.0, gt=0, le=300)
    # Streamed bodies: the gateway holds no more than a few pieces of this size per request,
    # so this (not MAX_BODY_SIZE) bounds its memory.
    max_body_size: int = Field(default=1024 * 1024 * 1024, ge=1)
    # `/health/ready` asks each upstream's own: in at most this many seconds (no more than
    # common's limit on any readiness check), a result kept this long for the next probes.
    upstream_ready_timeout: float = Field(
        default=CHECK_TIMEOUT_SECONDS, gt=0, le=CHECK_TIMEOUT_SECONDS
    )
    upstream_ready_cache_seconds: float = Field(default=2.0, ge=0, le=60)

    @field_validator("gateway_routes")
    @classmethod
    def _prefixes_are_paths(cls, routes: dict[str, str]) -> dict[str, str]:
        for prefix in routes:
            if not prefix.startswith("/") or prefix.endswith("/") or "//" in prefix:
                raise ValueError(
                    f"GATEWAY_ROUTES: {prefix!r} is not a path prefix "
                    "(starts with /, does not end with /)"
                )
        return routes

    @model_validator(mode="after")
    def _routes_name_upstreams(self) -> Self:
        unknown = sorted(set(self.gateway_routes.values()) - set(self.gateway_upstreams))
        if unknown:
            raise ValueError(
                f"GATEWAY_ROUTES names upstreams that GATEWAY_UPSTREAMS lacks: {unknown}"
            )
        return self


@lru_cache
def get_settings() -> GatewaySettings:
    return GatewaySettings()
