"""Settings of the activity service and its consumer (environment variables of the same names,
upper-case)."""

from __future__ import annotations

from functools import lru_cache

from pydantic import Field

from common.settings import ServiceSettings


class ActivitySettings(ServiceSettings):
    service_name: str = "activity"
    db_schema: str = "activity"

    # The consumer (`python -m activity_service.consumer`) of the audit stream.
    audit_consumer_group: str = Field(default="activity", min_length=1, max_length=64)
    # Entries read (and stored in one transaction) per batch.
    audit_consumer_batch_size: int = Field(default=500, ge=1, le=10_000)
    # How long one XREADGROUP waits for new entries; also the longest a SIGTERM waits.
    audit_consumer_block_ms: int = Field(default=1000, ge=1, le=60_000)
    # Entries a consumer read and left unacknowledged this long are taken over by another
    # (XAUTOCLAIM): the consumer died, or the entry failed and is retried.
    audit_consumer_claim_idle_ms: int = Field(default=60_000, ge=1)
    # How often each consumer looks for such entries.
    audit_consumer_claim_interval_ms: int = Field(default=5_000, ge=1)
    # An entry that failed this many deliveries goes to the dead-letter stream.
    audit_consumer_max_deliveries: int = Field(default=5, ge=1, le=1000)
    # Ceiling of the pause between retries while PostgreSQL or Redis is unreachable.
    audit_consumer_max_backoff: float = Field(default=30.0, gt=0, le=600)
    # Prometheus metrics of the consumer on this port (127.0.0.1 unless
    # AUDIT_CONSUMER_METRICS_HOST says otherwise); none when unset.
    audit_consumer_metrics_port: int | None = Field(default=None, ge=1, le=65_535)
    audit_consumer_metrics_host: str = "127.0.0.1"

    # Rows read per round trip by `/activity/verify` and `/activity/export`.
    activity_scan_batch_size: int = Field(default=1000, ge=10, le=50_000)


@lru_cache
def get_settings() -> ActivitySettings:
    return ActivitySettings()
