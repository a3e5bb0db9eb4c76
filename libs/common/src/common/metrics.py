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
from bisect import bisect_left
from collections.abc import Iterator
from itertools import accumulate

from fastapi import APIRouter, Response
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry
from prometheus_client.exposition import generate_latest
from prometheus_client.metrics_core import CounterMetricFamily, HistogramMetricFamily, Metric
from prometheus_client.samples import Sample
from prometheus_client.utils import floatToGoString
from starlette.types import ASGIApp, Message, Receive, Scope, Send

UNMATCHED = "none"
LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)
# The `le` labels as prometheus_client writes them (it leaves this helper untyped).
_BUCKET_LABELS: list[str] = [
    *(floatToGoString(bound) for bound in LATENCY_BUCKETS),  # type: ignore[no-untyped-call]
    "+Inf",
]


class _Latency:
    """One histogram child: a count per bucket (the last is +Inf), their sum, when it began."""

    __slots__ = ("counts", "created", "total")

    def __init__(self) -> None:
        self.counts = [0] * (len(LATENCY_BUCKETS) + 1)
        self.total = 0.0
        self.created = time.time()


class HttpMetrics:
    """The two metrics, counted in plain dictionaries and exposed by `collect`, a collector
    registered in `registry`, in the text prometheus_client's `Counter` and `Histogram` write
    (`_total`, `_bucket`, `_count`, `_sum`, `_created`).

    `Counter.labels(...).inc()` and `Histogram.labels(...).observe(...)` take a lock and check
    their values on every call: a fifth of the shared middleware's time on a trivial route.
    Both `observe` (the middleware) and `collect` (the async `/metrics` route) run on the event
    loop's thread, so the counts need no lock; call `observe` from that thread only."""

    def __init__(self, registry: CollectorRegistry) -> None:
        self.registry = registry
        self._requests: dict[tuple[str, str, int], list[float]] = {}
        self._latencies: dict[tuple[str, str], _Latency] = {}
        registry.register(self)

    def observe(self, method: str, handler: str, status: int, seconds: float) -> None:
        """Count one request (status grouped as `2xx`...) and observe its duration."""
        counted = self._requests.get((method, handler, status // 100))
        if counted is None:
            counted = self._requests[method, handler, status // 100] = [0, time.time()]
        counted[0] += 1
        latency = self._latencies.get((method, handler))
        if latency is None:
            latency = self._latencies[method, handler] = _Latency()
        latency.counts[bisect_left(LATENCY_BUCKETS, seconds)] += 1
        latency.total += seconds

    def collect(self) -> Iterator[Metric]:
        requests = CounterMetricFamily(
            "http_requests",
            "Total number of requests by method, status and handler.",
            labels=["method", "handler", "status"],
        )
        for (method, handler, klass), (count, created) in list(self._requests.items()):
            requests.add_metric([method, handler, f"{klass}xx"], count, created=created)
        yield requests
        durations = HistogramMetricFamily(
            "http_request_duration_seconds",
            "Duration of HTTP requests in seconds, until the last byte was sent.",
            labels=["method", "handler"],
        )
        for (method, handler), latency in list(self._latencies.items()):
            cumulative = accumulate(latency.counts)
            buckets = [
                (le, float(count)) for le, count in zip(_BUCKET_LABELS, cumulative, strict=True)
            ]
            durations.add_metric([method, handler], buckets, latency.total)
            labels = {"method": method, "handler": handler}
            durations.samples.append(Sample(f"{durations.name}_created", labels, latency.created))
        yield durations


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
