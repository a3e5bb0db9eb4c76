"""The Redis client of a service, and the key prefix every key goes through.

The prefix lets several deployments (or test runs) share one Redis without touching each
other's keys.

The pool is sized and blocking. redis-py's default pool raises "Too many connections" at its cap,
so a burst of a hundred requests read as "Redis is down" (logins failing closed, readiness
failing). Here a request beyond REDIS_MAX_CONNECTIONS waits for a connection another request
returns; only a wait longer than REDIS_POOL_TIMEOUT fails, as `RedisPoolExhausted`, which is
deliberately not a `RedisError`: code that falls back while Redis is unreachable (fail-open
throttles, outage handling) must not take a busy process for a dead Redis.
"""

from __future__ import annotations

import re
from typing import Any

from redis.asyncio import BlockingConnectionPool, Redis
from redis.asyncio.connection import AbstractConnection
from redis.exceptions import ConnectionError as RedisConnectionError

from common.settings import ServiceSettings


class RedisPoolExhausted(Exception):
    """Every connection of the pool stayed in use for the whole pool timeout: this process is
    saturated while Redis itself may be fine. Answered 503 `redis_busy` with Retry-After."""


class BackPressurePool(BlockingConnectionPool):
    """A blocking pool whose timed-out wait raises `RedisPoolExhausted` instead of redis-py's
    `ConnectionError("No connection available.")`, which would be indistinguishable from an
    outage."""

    async def get_connection(self, *args: Any, **kwargs: Any) -> AbstractConnection:
        try:
            connection: AbstractConnection = await super().get_connection(  # type: ignore[no-untyped-call]  # redis-py leaves it unannotated
                *args, **kwargs
            )
        except RedisConnectionError as exc:
            # redis-py raises the pool's wait timeout as a bare ConnectionError caused by the
            # TimeoutError of the wait; a failed connect is a ConnectionError caused by an
            # OSError, or redis' own TimeoutError.
            if type(exc) is RedisConnectionError and isinstance(exc.__cause__, TimeoutError):
                raise RedisPoolExhausted(
                    f"no Redis connection came free within {self.timeout} s "
                    f"({self.max_connections} in use)"
                ) from exc
            raise
        return connection


def _client_name(service: str) -> str:
    """CLIENT SETNAME refuses spaces and control characters."""
    return re.sub(r"[^!-~]", "-", service) or "service"


def create_redis(
    settings: ServiceSettings,
    *,
    max_connections: int | None = None,
    pool_timeout: float | None = None,
    blocking_reads: bool = False,
) -> Redis:
    """The service's client, sized by REDIS_MAX_CONNECTIONS and REDIS_POOL_TIMEOUT unless a
    caller (readiness, with a small pool of its own) says otherwise. `blocking_reads`: a client
    for a long blocking read (the revocation feed's XREAD), whose socket waits longer than the
    read, on a pool of its own so it never holds a slot of the request pool."""
    pool = BackPressurePool.from_url(
        settings.redis_url,
        max_connections=max_connections or settings.redis_max_connections,
        timeout=pool_timeout or settings.redis_pool_timeout,
        decode_responses=True,
        socket_connect_timeout=2.0,
        # A blocking XREAD waits up to a second; its socket must wait longer than that.
        socket_timeout=5.0 if blocking_reads else 2.0,
        health_check_interval=30,
        # Operators see which service holds which connections in CLIENT LIST.
        client_name=_client_name(settings.service_name),
    )
    return Redis.from_pool(pool)


class KeySpace:
    """Builds namespaced keys: `KeySpace("test:42:").key("login", "ip", "1.2.3.4")`."""

    def __init__(self, prefix: str) -> None:
        self.prefix = prefix

    def key(self, *parts: str) -> str:
        return self.prefix + ":".join(parts)
