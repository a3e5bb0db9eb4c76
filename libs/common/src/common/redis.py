"""The Redis client of a service, and the key prefix every key goes through.

The prefix lets several deployments (or test runs) share one Redis without touching each
other's keys.
"""

from __future__ import annotations

from redis.asyncio import Redis

from common.settings import ServiceSettings


def create_redis(settings: ServiceSettings, *, single_connection: bool = False) -> Redis:
    """The service's client; `single_connection` gives a client of its own connection, for a
    long blocking read that must not hold a slot of the shared pool."""
    return Redis.from_url(
        settings.redis_url,
        decode_responses=True,
        socket_connect_timeout=2.0,
        # A blocking XREAD waits up to a second; the socket must wait longer than that.
        socket_timeout=5.0 if single_connection else 2.0,
        health_check_interval=30,
        single_connection_client=single_connection,
    )


class KeySpace:
    """Builds namespaced keys: `KeySpace("test:42:").key("login", "ip", "1.2.3.4")`."""

    def __init__(self, prefix: str) -> None:
        self.prefix = prefix

    def key(self, *parts: str) -> str:
        return self.prefix + ":".join(parts)
