"""The activity service: `uvicorn activity_service.main:create_app --factory --port 8002`.

The consumer that fills the table is a separate process: `python -m activity_service.consumer`.
"""

from __future__ import annotations

from fastapi import FastAPI

from activity_service.routes import API_ROUTERS
from activity_service.settings import ActivitySettings, get_settings
from common.app import JwksSourceFactory, create_service_app

DESCRIPTION = """
The audit trail of every service. Events arrive over the Redis stream `audit.events`, are stored
once each in an append-only table, and are chained by SHA-256 hashes: `/activity/verify` finds a
row changed, removed or slipped in behind the database's back.
"""


def create_app(
    settings: ActivitySettings | None = None, *, jwks_source: JwksSourceFactory | None = None
) -> FastAPI:
    """`jwks_source`: where the token-verification keys come from; by default `JWKS_URL`."""
    settings = settings or get_settings()
    return create_service_app(
        settings,
        title="Activity service",
        description=DESCRIPTION,
        routers=API_ROUTERS,
        jwks_source=jwks_source,
    )
