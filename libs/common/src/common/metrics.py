"""Prometheus metrics of HTTP traffic, and the `/metrics` endpoint.

The metric names and labels are those of prometheus-fastapi-instrumentator's default set
(`http_requests_total{method,handler,status}` and `http_request_duration_seconds{method,handler}`),
so its dashboards work. The handler label is the full route template that served the request
(`/api/v1/users/{user_id}`), from the route the router put in the scope; unmatched paths are
`none`, so scanners cannot blow up the label cardinality. The instrumentator itself matched
every request against every route a second time, which cost a tenth of a fast endpoint's time
(docs/decisions/0006-metrics-middleware.md).
"""

from __future__ import annotations

import time

from fastapi import APIRouter, Response
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, Counter, Histogram
from prometheus_client.exposition import generate_latest
from starlette.types import ASGIApp, Message, Receive, Scope, Send

UNMATCHED = "none"
LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)


class HttpMetrics:
    """The collectors, made once per app in its own registry.

    `observe` keeps the labelled children it has used: `labels(...)` validates the values and
    takes a lock on every call, which cost more than the counting itself."""

    def __init__(self, registry: CollectorRegistry) -> None:
        self.registry = registry
        self.requests = Counter(
            "http_requests_total",
            "Total number of requests by method, status and handler.",
            ["method", "handler", "status"],
            registry=registry,
        )
        self.latency = Histogram(
            "http_request_duration_seconds",
            "Duration of HTTP requests in seconds, until the last byte was sent.",
            ["method", "handler"],
            buckets=LATENCY_BUCKETS,
            registry=registry,
        )
        self._counters: dict[tuple[str, str, int], Counter] = {}
        self._latencies: dict[tuple[str, str], Histogram] = {}

    def observe(self, method: str, handler: str, status: int, seconds: float) -> None:
        """Count one request (status grouped as `2xx`...) and observe its duration."""
        klass = status // 100
        counter = self._counters.get((method, handler, klass))
        if counter is None:
            counter = self._counters[method, handler, klass] = self.requests.labels(
                method, handler, f"{klass}xx"
            )
        latency = self._latencies.get((method, handler))
        if latency is None:
            latency = self._latencies[method, handler] = self.latency.labels(method, handler)
        counter.inc()
        latency.observe(seconds)


class RouteLabels:
    """The handler label of a request: the template of the route that served it, with the
    prefixes of the routers it was included under.

    The route in the scope knows only its own template (`/users/{user_id}`); the part of the
    path its router's prefixes matched is found once per route and remembered."""

    def __init__(self) -> None:
        self._prefixes: dict[int, str] = {}

    def handler(self, scope: Scope) -> str:
        route = scope.get("route")
        template = getattr(route, "path_format", None)
        regex = getattr(route, "path_regex", None)
        if not isinstance(template, str) or regex is None:
            return UNMATCHED
        path: str = scope["path"]
        prefix = self._prefixes.get(id(route))
        if prefix is not None and path.startswith(prefix):
            return prefix + template
        start = 0
        while start != -1:
            if regex.match(path[start:]):
                self._prefixes[id(route)] = path[:start]
                return path[:start] + template
            start = path.find("/", start + 1)
        return template


class MetricsMiddleware:
    """The metrics as a middleware of its own; `create_service_app` records them in
    `common.service_middleware.ServiceMiddleware`'s one pass instead."""

    def __init__(self, app: ASGIApp, *, metrics: HttpMetrics, exclude: tuple[str, ...]) -> None:
        self.app = app
        self.metrics = metrics
        self.exclude = frozenset(exclude)
        self.labels = RouteLabels()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["path"] in self.exclude:
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        status = 500

        async def send_with_status(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, send_with_status)
        finally:
            self.metrics.observe(
                scope["method"],
                self.labels.handler(scope),
                status,
                time.perf_counter() - started,
            )


def metrics_router(registry: CollectorRegistry) -> APIRouter:
    router = APIRouter(include_in_schema=False)

    @router.get("/metrics", summary="Prometheus metrics")
    async def metrics() -> Response:
        return Response(generate_latest(registry), media_type=CONTENT_TYPE_LATEST)

    return router
