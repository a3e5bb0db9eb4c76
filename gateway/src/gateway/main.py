"""The gateway: `uvicorn gateway.main:create_app --factory --port 8000`.

Built by `common.app.create_stateless_app` (the shared middleware, error handlers, `/health`,
`/metrics` and docs of every service, no database); every other path goes to `forward`, which
sends it to the upstream the routing table names (`GATEWAY_ROUTES`, `GATEWAY_UPSTREAMS`).
"""

from __future__ import annotations

from fastapi import FastAPI

from common.app import create_stateless_app
from gateway.forwarding import forward
from gateway.runtime import runtime
from gateway.settings import GatewaySettings, get_settings

DESCRIPTION = """
The one front door of the services: `/api/v1/...` and `/.well-known/...` are forwarded, paths
unchanged, to the service that owns them. This document lists the gateway's own operations;
each service's are in its own `/docs`.
"""


def create_app(settings: GatewaySettings | None = None) -> FastAPI:
    settings = settings or get_settings()
    app = create_stateless_app(
        settings,
        title="Gateway",
        description=DESCRIPTION,
        runtime=runtime(settings),
        # The services compress their own answers (as the client's Accept-Encoding asks);
        # the gateway passes each answer on as its service made it.
        compress=False,
    )
    # What none of the gateway's own routes (health, metrics, docs) serves is forwarded.
    app.router.default = forward
    return app
