"""The auth service: `uvicorn auth_service.main:create_app --factory --port 8001`."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from fastapi import FastAPI

from auth_service.models import AuditOutbox
from auth_service.routes import API_ROUTERS, PAGE_ROUTERS, ROOT_ROUTERS
from auth_service.runtime import runtime
from auth_service.services.signing_keys import SigningKeyService
from auth_service.settings import AuthSettings, get_settings
from common.app import JwksSourceFactory, create_service_app
from common.db import Database
from common.security import JwksSource
from common.settings import ServiceSettings

DESCRIPTION = """
Accounts, roles and permissions. Issues RS256 access tokens (RFC 9068) that every service
verifies against `/.well-known/jwks.json`, and rotating refresh tokens with reuse detection.
"""


def _own_keys(settings: AuthSettings) -> JwksSourceFactory:
    """Auth verifies its own tokens from its own table, not over HTTP to itself."""

    def source(_: ServiceSettings, database: Database) -> JwksSource:
        async def fetch() -> Mapping[str, Any]:
            async with database.sessionmaker() as session:
                return await SigningKeyService(session, settings=settings).jwks()

        return fetch

    return source


def create_app(settings: AuthSettings | None = None) -> FastAPI:
    settings = settings or get_settings()
    return create_service_app(
        settings,
        title="Auth service",
        description=DESCRIPTION,
        routers=API_ROUTERS,
        root_routers=[*ROOT_ROUTERS, *(PAGE_ROUTERS if settings.serves_account_pages else [])],
        runtime=runtime(settings),
        jwks_source=_own_keys(settings),
        outbox=AuditOutbox,
    )
