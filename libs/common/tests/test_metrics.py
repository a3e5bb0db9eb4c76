"""`HttpMetrics` counts in plain dictionaries but must write, sample for sample, what
prometheus_client's `Counter` and `Histogram` write for the same requests: dashboards and
alerts are built on that text."""

from __future__ import annotations

import re
from itertools import product

from prometheus_client import CollectorRegistry, Counter, Histogram
from prometheus_client.exposition import generate_latest

from common.metrics import LATENCY_BUCKETS, HttpMetrics

METHODS = ("GET", "POST", "DELETE")
HANDLERS = ("/api/v1/users/{user_id}", "/health", "none")
STATUSES = (200, 201, 302, 404, 429, 500, 503)
# On a bucket's bound (counted in that bucket), between bounds, zero, past the last bound.
DURATIONS = (*LATENCY_BUCKETS, 0.0, 0.0075, 0.3, 10.5, 60.0)
_CREATED_VALUE = re.compile(r"^(\S+_created\{.*\}) \S+$")


def _reference(registry: CollectorRegistry) -> tuple[Counter, Histogram]:
    requests = Counter(
        "http_requests_total",
        "Total number of requests by method, status and handler.",
        ["method", "handler", "status"],
        registry=registry,
    )
    latency = Histogram(
        "http_request_duration_seconds",
        "Duration of HTTP requests in seconds, until the last byte was sent.",
        ["method", "handler"],
        buckets=LATENCY_BUCKETS,
        registry=registry,
    )
    return requests, latency


def _exposition(registry: CollectorRegistry) -> list[str]:
    """The text's lines in order, with the `_created` timestamps (when a series began) blanked."""
    lines = generate_latest(registry).decode().splitlines()
    return [_CREATED_VALUE.sub(r"\1 <created>", line) for line in lines]


class TestTheTextIsPrometheusClients:
    def test_for_the_same_requests_every_sample_is_the_same(self) -> None:
        reference_registry, registry = CollectorRegistry(), CollectorRegistry()
        requests, latency = _reference(reference_registry)
        metrics = HttpMetrics(registry)
        combinations = product(METHODS, HANDLERS, STATUSES, DURATIONS)
        for index, (method, handler, status, seconds) in enumerate(combinations):
            for _ in range(index % 3 + 1):  # counts that differ from series to series
                requests.labels(method, handler, f"{status // 100}xx").inc()
                latency.labels(method, handler).observe(seconds)
                metrics.observe(method, handler, status, seconds)

        expected = _exposition(reference_registry)
        assert _exposition(registry) == expected
        assert any(line.startswith("http_request_duration_seconds_created{") for line in expected)

    def test_nothing_is_written_before_the_first_request(self) -> None:
        registry = CollectorRegistry()
        HttpMetrics(registry)

        samples = [line for line in _exposition(registry) if not line.startswith("#")]

        assert samples == []

    def test_a_duration_on_a_bound_falls_in_that_bucket(self) -> None:
        registry = CollectorRegistry()
        HttpMetrics(registry).observe("GET", "/health", 200, 0.25)

        lines = _exposition(registry)

        bucket = 'http_request_duration_seconds_bucket{handler="/health",le="%s",method="GET"}'
        assert f"{bucket % '0.1'} 0.0" in lines
        assert f"{bucket % '0.25'} 1.0" in lines
        assert f"{bucket % '+Inf'} 1.0" in lines
