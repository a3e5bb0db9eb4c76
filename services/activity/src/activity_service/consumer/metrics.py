"""Prometheus metrics of the consumer, served by `prometheus_client` on
AUDIT_CONSUMER_METRICS_PORT when it is set."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge


class ConsumerMetrics:
    def __init__(self, registry: CollectorRegistry) -> None:
        self.registry = registry
        self.stored = Counter(
            "audit_consumer_events_stored", "Audit events appended to the chain.", registry=registry
        )
        self.duplicates = Counter(
            "audit_consumer_duplicates",
            "Redelivered audit events that were already stored (skipped).",
            registry=registry,
        )
        self.failed = Counter(
            "audit_consumer_entry_failures",
            "Deliveries of entries that could not be stored (left pending for a retry).",
            registry=registry,
        )
        self.dead_lettered = Counter(
            "audit_consumer_dead_lettered",
            "Entries moved to the dead-letter stream.",
            registry=registry,
        )
        self.claimed = Counter(
            "audit_consumer_claimed",
            "Entries taken over from a consumer that left them pending (XAUTOCLAIM).",
            registry=registry,
        )
        self.errors = Counter(
            "audit_consumer_errors",
            "Rounds that failed on an outage (PostgreSQL or Redis) and were retried.",
            registry=registry,
        )
        self.lag = Gauge(
            "audit_consumer_lag",
            "Entries of the stream the group has not read yet.",
            registry=registry,
        )
        self.pending = Gauge(
            "audit_consumer_pending",
            "Entries the group read and has not acknowledged yet.",
            registry=registry,
        )
