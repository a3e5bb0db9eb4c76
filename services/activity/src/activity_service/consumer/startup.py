"""The consumer process: settings in, a running `AuditConsumer` until SIGTERM or SIGINT."""

from __future__ import annotations

import asyncio
import logging
import os
import signal
import socket

from prometheus_client import CollectorRegistry, start_http_server
from redis.asyncio import Redis

from activity_service.consumer.metrics import ConsumerMetrics
from activity_service.consumer.stream_consumer import AuditConsumer
from activity_service.services.chain_writer import ChainWriter
from activity_service.settings import ActivitySettings
from common.db import Database
from common.redis import KeySpace

logger = logging.getLogger(__name__)


def consumer_name() -> str:
    """Unique per process, readable in XINFO CONSUMERS: `<hostname>-<pid>`."""
    return f"{socket.gethostname()}-{os.getpid()}"


def create_redis(settings: ActivitySettings) -> Redis:
    """Bytes in, bytes out (an entry that is not UTF-8 must reach the dead-letter stream, not
    break the read), and a socket timeout longer than the blocking read."""
    return Redis.from_url(
        settings.redis_url,
        decode_responses=False,
        socket_connect_timeout=2.0,
        socket_timeout=settings.audit_consumer_block_ms / 1000 + 5.0,
        health_check_interval=30,
    )


def create_consumer(
    settings: ActivitySettings,
    *,
    redis: Redis,
    database: Database,
    metrics: ConsumerMetrics | None = None,
    name: str | None = None,
) -> AuditConsumer:
    return AuditConsumer(
        redis=redis,
        writer=ChainWriter(database.engine),
        stream=KeySpace(settings.redis_key_prefix).key(settings.audit_stream),
        group=settings.audit_consumer_group,
        name=name or consumer_name(),
        batch_size=settings.audit_consumer_batch_size,
        block_ms=settings.audit_consumer_block_ms,
        claim_idle_ms=settings.audit_consumer_claim_idle_ms,
        claim_interval_ms=settings.audit_consumer_claim_interval_ms,
        max_deliveries=settings.audit_consumer_max_deliveries,
        max_backoff=settings.audit_consumer_max_backoff,
        metrics=metrics,
    )


async def run(settings: ActivitySettings) -> int:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, stop.set)
    metrics = None
    if settings.audit_consumer_metrics_port is not None:
        metrics = ConsumerMetrics(CollectorRegistry())
        start_http_server(
            settings.audit_consumer_metrics_port,
            addr=settings.audit_consumer_metrics_host,
            registry=metrics.registry,
        )
    database = Database(settings)
    redis = create_redis(settings)
    consumer = create_consumer(settings, redis=redis, database=database, metrics=metrics)
    logger.info("consuming %s in group %s as %s", consumer.stream, consumer.group, consumer.name)
    try:
        await consumer.run(stop)
    finally:
        await redis.aclose()
        await database.dispose()
    logger.info("consumer %s stopped", consumer.name)
    return 0
