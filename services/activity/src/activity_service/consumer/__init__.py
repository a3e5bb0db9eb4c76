"""The audit-stream consumer: `python -m activity_service.consumer`."""

from activity_service.consumer.entries import InvalidEntry, dead_letter_fields, parse_entry
from activity_service.consumer.metrics import ConsumerMetrics
from activity_service.consumer.startup import consumer_name, create_consumer, create_redis, run
from activity_service.consumer.stream_consumer import AuditConsumer

__all__ = [
    "AuditConsumer",
    "ConsumerMetrics",
    "InvalidEntry",
    "consumer_name",
    "create_consumer",
    "create_redis",
    "dead_letter_fields",
    "parse_entry",
    "run",
]
