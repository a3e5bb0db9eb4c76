"""The application factory every service calls: one place that wires settings, database, Redis,
token verification, middleware, error handlers, health, metrics and docs.

A service's `main.py` passes its routers and, if it needs one, a `runtime` factory: given the
shared `ServiceCore`, it builds the service's own typed runtime (its singletons, start-up work,
background tasks) as an async context manager, which the app holds for its life
(`common.runtime`, `common.dependencies`).

`create_stateless_app` builds the same app for a process with no database or Redis of its own
(the gateway): the same middleware, error handlers, health, metrics and docs, and its runtime.
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import logging
from collections.abc import AsyncIterator, Callable, Sequence
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from typing import Any

import httpx
from fastapi import APIRouter, FastAPI
from prometheus_client import CollectorRegistry
from redis.asyncio import Redis
from redis.exceptions import RedisError

from common.audit import OutboxMixin, OutboxRelay, RelayMetrics, stop_relay
from common.db.session import Database
from common.docs import DOCS_URL, REDOC_URL, install_docs
from common.error_handlers import install_error_handlers
from common.health import ReadinessChecks, ReportsReadiness, attach_readiness
from common.health import router as health_router
from common.logging import configure_logging
from common.metrics import HttpMetrics, metrics_router
from common.operation_ids import operation_id_generator
from common.redis import KeySpace, create_redis
from common.runtime import ServiceCore, StatelessCore, attach_core, attach_runtime
from common.schemas import error_responses
from common.security.jwks import JwksSource, TokenVerifier, http_jwks_source
from common.security.revocation import RevocationFeed, RevocationList
from common.service_middleware import ServiceMiddleware
from common.settings import ServiceSettings

logger = logging.getLogger(__name__)

RuntimeFactory = Callable[[ServiceCore], AbstractAsyncContextManager[object]]
"""Builds a service's own runtime on the core (and closes it): `create_service_app(runtime=)`."""
StatelessRuntimeFactory = Callable[[StatelessCore], AbstractAsyncContextManager[object]]
"""The same for an app without a database: `create_stateless_app(runtime=)`."""
Lifespan = Callable[[FastAPI], AbstractAsyncContextManager[None]]
JwksSourceFactory = Callable[[ServiceSettings, Database], JwksSource]
"""Where the verifier's keys come from, when not `JWKS_URL` (auth reads its own table)."""


def _relay(
    settings: ServiceSettings,
    database: Database,
    redis: Redis,
    outbox: type[OutboxMixin],
    registry: CollectorRegistry | None,
) -> OutboxRelay:
    return OutboxRelay(
        engine=database.engine,
        outbox=outbox,
        redis=redis,
        stream=KeySpace(settings.redis_key_prefix).key(settings.audit_stream),
        maxlen=settings.audit_stream_maxlen,
        batch_size=settings.audit_relay_batch_size,
        idle_interval=settings.audit_relay_idle_interval,
        max_backoff=settings.audit_relay_max_backoff,
        metrics=RelayMetrics(registry) if registry is not None else None,
    )


async def _start_revocation_feed(
    settings: ServiceSettings,
) -> tuple[RevocationList, asyncio.Task[None], Redis]:
    """The revoked tokens this process refuses, read before it serves and followed after. A
    Redis that is down at start-up is not fatal: the list stays stale (see
    common.security.revocation) until the feed reaches it."""
    revocations = RevocationList(
        max_lag_seconds=settings.token_revocation_max_lag_seconds,
        fail_open=settings.token_revocation_fail_open,
    )
    redis = create_redis(settings, max_connections=1, blocking_reads=True)
    feed = RevocationFeed(
        redis,
        KeySpace(settings.redis_key_prefix).key(settings.token_revocation_stream),
        revocations,
    )
    try:
        await feed.catch_up()
    except (RedisError, OSError) as exc:
        logger.warning("token revocations could not be read at start-up: %r", exc)
    return revocations, asyncio.create_task(feed.run(), name="revocation-feed"), redis


# Every API operation reads the database or checks an access token (JWKS, revocations): when
# one of them is down or saturated (database_busy, redis_busy, jwks_unavailable...) it answers
# 503, whatever the route declares. Root routes (discovery documents) declare their own.
UNAVAILABLE = error_responses(503)


def shared_refusals(settings: ServiceSettings) -> dict[int | str, dict[str, Any]]:
    """The answers the shared middleware gives any request before a route sees it, listed in
    every operation's OpenAPI (each route's own description of a status wins): 413 for a body
    over MAX_BODY_SIZE, 431 for headers over MAX_HEADERS_SIZE, and 400 for a Host that is not
    one of TRUSTED_HOSTS, where the service refuses any (with `*` a route's 400 is only its
    own, and the fuzzing pass can tell a stray one)."""
    refusals = error_responses(413, 431)
    if "*" not in settings.trusted_hosts:
        refusals |= error_responses(400)
    return refusals


def create_service_app(
    settings: ServiceSettings,
    *,
    title: str,
    description: str,
    version: str = "0.1.0",
    routers: Sequence[APIRouter] = (),
    root_routers: Sequence[APIRouter] = (),
    runtime: RuntimeFactory | None = None,
    jwks_source: JwksSourceFactory | None = None,
    outbox: type[OutboxMixin] | None = None,
    openapi_tags: list[dict[str, Any]] | None = None,
) -> FastAPI:
    """`outbox`: the service's audit outbox table; its relay then runs in the lifespan unless
    AUDIT_RELAY_ENABLED is false. `runtime`: see the module's docstring."""
    configure_logging(settings)
    metrics_registry = _metrics_registry(settings)

    @asynccontextmanager
    async def app_lifespan(app: FastAPI) -> AsyncIterator[None]:
        database = Database(settings)
        redis = create_redis(settings)
        http = httpx.AsyncClient(timeout=httpx.Timeout(5.0, connect=2.0))
        readiness = ReadinessChecks(settings)
        source = (
            jwks_source(settings, database)
            if jwks_source
            else http_jwks_source(settings.jwks_url, http)
        )
        revocations, feed_task, feed_redis = await _start_revocation_feed(settings)
        relay = (
            _relay(settings, database, redis, outbox, metrics_registry)
            if outbox is not None and settings.audit_relay_enabled
            else None
        )
        core = ServiceCore(
            settings=settings,
            database=database,
            redis=redis,
            http=http,
            token_verifier=TokenVerifier(
                source,
                issuer=settings.jwt_issuer,
                audience=settings.jwt_audience,
                leeway=settings.jwt_leeway_seconds,
                cache_seconds=settings.jwks_cache_seconds,
                min_refresh_interval=settings.jwks_min_refresh_interval,
                token_cache_size=settings.token_cache_size,
                revocations=revocations,
            ),
            revocations=revocations,
            readiness=readiness,
            metrics=metrics_registry,
            audit_relay=relay,
        )
        attach_core(app, core)
        attach_readiness(app, readiness.checks)
        relay_task = asyncio.create_task(relay.run(), name="audit-relay") if relay else None
        try:
            if runtime is None:
                _settle_heap(settings)
                yield
            else:
                async with runtime(core) as service_runtime:
                    attach_runtime(app, service_runtime)
                    _settle_heap(settings)
                    yield
        finally:
            if relay is not None and relay_task is not None:
                await stop_relay(relay, relay_task)
            feed_task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await feed_task
            await feed_redis.aclose()
            await http.aclose()
            await readiness.aclose()
            await redis.aclose()
            await database.dispose()

    return _assemble(
        settings,
        app_lifespan,
        metrics_registry,
        title=title,
        description=description,
        version=version,
        routers=routers,
        root_routers=root_routers,
        openapi_tags=openapi_tags,
        api_responses=UNAVAILABLE,
    )


def create_stateless_app(
    settings: ServiceSettings,
    *,
    title: str,
    description: str,
    version: str = "0.1.0",
    routers: Sequence[APIRouter] = (),
    root_routers: Sequence[APIRouter] = (),
    runtime: StatelessRuntimeFactory | None = None,
    openapi_tags: list[dict[str, Any]] | None = None,
    compress: bool = True,
) -> FastAPI:
    """An app with the shape of a service (the shared middleware, error handlers, `/health`,
    `/metrics`, docs) but no database, Redis or token verifier of its own: the gateway. Its
    lifespan builds only `runtime`, given a `StatelessCore` (settings and metrics registry),
    and `/health/ready` asks the runtime's `readiness_checks` when it has some
    (`ReportsReadiness`: the gateway's upstreams), else answers ok once started.
    `compress=False`: no GZip layer (an app relaying answers others made and compressed)."""
    configure_logging(settings)
    metrics_registry = _metrics_registry(settings)

    @asynccontextmanager
    async def app_lifespan(app: FastAPI) -> AsyncIterator[None]:
        attach_readiness(app, {})
        if runtime is None:
            _settle_heap(settings)
            yield
            return
        core = StatelessCore(settings=settings, metrics=metrics_registry)
        async with runtime(core) as app_runtime:
            attach_runtime(app, app_runtime)
            if isinstance(app_runtime, ReportsReadiness):
                attach_readiness(app, app_runtime.readiness_checks)
            _settle_heap(settings)
            yield

    return _assemble(
        settings,
        app_lifespan,
        metrics_registry,
        title=title,
        description=description,
        version=version,
        routers=routers,
        root_routers=root_routers,
        openapi_tags=openapi_tags,
        api_responses={},
        compress=compress,
    )


def _metrics_registry(settings: ServiceSettings) -> CollectorRegistry | None:
    """The app's Prometheus registry (None with METRICS_ENABLED=false)."""
    return CollectorRegistry() if settings.metrics_enabled else None


def _assemble(
    settings: ServiceSettings,
    lifespan: Lifespan,
    metrics_registry: CollectorRegistry | None,
    *,
    title: str,
    description: str,
    version: str,
    routers: Sequence[APIRouter],
    root_routers: Sequence[APIRouter],
    openapi_tags: list[dict[str, Any]] | None,
    api_responses: dict[int | str, dict[str, Any]],
    compress: bool = True,
) -> FastAPI:
    """The FastAPI app both factories make around their lifespan: docs, error handlers, health,
    the routers (API ones under API_PREFIX, listing `api_responses` besides the shared
    refusals), metrics and the shared middleware."""
    docs = settings.serves_docs  # DOCS_ENABLED; off in production unless set
    app = FastAPI(
        title=title,
        description=description,
        version=version,
        lifespan=lifespan,
        openapi_tags=openapi_tags,
        generate_unique_id_function=operation_id_generator(settings.api_prefix),
        swagger_ui_parameters={"persistAuthorization": True},
        docs_url=None,  # served by `common.docs`, from the service's own assets
        redoc_url=None,
        openapi_url="/openapi.json" if docs else None,
    )
    if docs:
        install_docs(app, token_url=settings.docs_sign_in_url)
    install_error_handlers(app)

    refusals = shared_refusals(settings)
    app.include_router(health_router, responses=refusals)
    for router in routers:
        app.include_router(
            router, prefix=settings.api_prefix, responses={**refusals, **api_responses}
        )
    for router in root_routers:
        app.include_router(router, responses=refusals)

    _install_middleware(app, settings, metrics_registry, compress=compress)
    return app


def _settle_heap(settings: ServiceSettings) -> None:
    """Everything built so far lives as long as the process: collect what start-up left over,
    then move the rest out of the cyclic GC's generations (`gc.freeze`). Full collections under
    load otherwise re-scan those ~170k objects, a stop-the-world pause of ~0.1 s several times
    a minute on `/auth/me` (decision 0015)."""
    if settings.gc_freeze_after_startup:
        gc.collect()
        gc.freeze()


def _install_middleware(
    app: FastAPI, settings: ServiceSettings, registry: CollectorRegistry | None, *, compress: bool
) -> None:
    """The shared middleware, in one pass (`common.service_middleware`), and `/metrics`."""
    if registry is not None:
        app.include_router(metrics_router(registry))
    app.add_middleware(
        ServiceMiddleware,
        max_headers_size=settings.max_headers_size,
        max_header_field_size=settings.max_header_field_size,
        max_body_size=settings.max_body_size,
        trusted_hosts=settings.trusted_hosts,
        cors_origins=settings.cors_origins,
        metrics=HttpMetrics(registry) if registry is not None else None,
        metrics_exclude=("/metrics",),
        hsts=settings.is_production,
        docs_paths=(DOCS_URL, REDOC_URL),
        access_log=settings.access_log,
        trusted_proxies=settings.trusted_proxy_networks,
        compress=compress,
    )
