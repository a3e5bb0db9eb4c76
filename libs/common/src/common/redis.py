"""The Redis client of a service, and the key prefix every key goes through.

The prefix lets several deployments (or test runs) share one Redis without touching each
other's keys.
"""

from __future__ import annotations

from redis.asyncio import Redis

from common.settings import ServiceSettings


def create_redis(settings: ServiceSettings) -> Redis:
    return Redis.from_url(
        settings.redis_url,
        decode_responses=True,
        socket_connect_timeout=2.0,
        socket_timeout=2.0,
        health_check_interval=30,
    )


class KeySpace:
    """Builds namespaced keys: `KeySpace("test:42:").key("login", "ip", "1.2.3.4")`."""

    def __init__(self, prefix: str) -> None:
        self.prefix = prefix

    def key(self, *parts: str) -> str:
        return self.prefix + ":".join(parts)
