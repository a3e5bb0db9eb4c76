"""What the gateway builds at start-up: the routing table and one aiohttp session, whose
connection pool every forwarded request (and each upstream's readiness check) shares
(`create_stateless_app(runtime=...)`)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import aiohttp

from common.app import StatelessRuntimeFactory
from common.runtime import StatelessCore
from gateway.forwarding import Forwarder
from gateway.readiness import UpstreamReadiness
from gateway.routing import RoutingTable
from gateway.settings import GatewaySettings


def client_session(settings: GatewaySettings) -> aiohttp.ClientSession:
    """The gateway's HTTP client: a pool of keep-alive connections to the upstreams, and
    nothing of a browser (no cookie jar shared between clients, no decompression, no headers
    of its own: what the client sent, the upstream gets)."""
    connector = aiohttp.TCPConnector(
        limit=settings.upstream_max_connections * max(1, len(settings.gateway_upstreams)),
        limit_per_host=settings.upstream_max_connections,
        keepalive_timeout=settings.upstream_keepalive_seconds,
    )
    return aiohttp.ClientSession(
        connector=connector,
        cookie_jar=aiohttp.DummyCookieJar(),
        auto_decompress=False,
        skip_auto_headers=("User-Agent", "Accept-Encoding", "Content-Type"),
        trust_env=False,
        timeout=aiohttp.ClientTimeout(total=None),  # per upstream, on each request
    )


def runtime(settings: GatewaySettings) -> StatelessRuntimeFactory:
    """The factory `create_stateless_app` calls in the lifespan: the `Forwarder`, with the
    upstreams' readiness checks, whose session is closed (and its pool with it) when the app
    stops."""

    @asynccontextmanager
    async def build(core: StatelessCore) -> AsyncIterator[Forwarder]:
        table = RoutingTable(settings.gateway_routes, settings.gateway_upstreams)
        async with client_session(settings) as session:
            readiness = UpstreamReadiness(
                session,
                settings.gateway_upstreams,
                timeout=settings.upstream_ready_timeout,
                cache_seconds=settings.upstream_ready_cache_seconds,
            )
            try:
                yield Forwarder(
                    session,
                    table,
                    trusted_proxies=settings.trusted_proxy_networks,
                    readiness_checks=readiness.checks,
                )
            finally:
                await readiness.aclose()

    return build
