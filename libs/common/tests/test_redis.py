"""The Redis client of a service and `KeySpace`, the prefix every key goes through so several
deployments (or test runs) can share one Redis. The client's pool is sized and blocking: a burst
of requests waits for a connection instead of failing, and a wait that outlasts
REDIS_POOL_TIMEOUT is back-pressure (`RedisPoolExhausted`), not an outage."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from typing import Any

import pytest
from redis.asyncio import Redis
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import RedisError

from common.redis import BackPressurePool, KeySpace, RedisPoolExhausted, create_redis
from common.settings import ServiceSettings
from common.testing import free_port


def settings(redis_url: str, **overrides: Any) -> ServiceSettings:
    return ServiceSettings(_env_file=None, environment="test", redis_url=redis_url, **overrides)


async def connections_named(name: str, redis_url: str) -> int:
    """Connections Redis has open for clients called `name` (CLIENT LIST, seen from outside)."""
    observer = Redis.from_url(redis_url, decode_responses=True)
    try:
        clients = await observer.client_list()
    finally:
        await observer.aclose()
    return sum(1 for client in clients if client["name"] == name)


@pytest.fixture
async def client(redis_url: str) -> AsyncIterator[Redis]:
    redis = create_redis(settings(redis_url))
    try:
        yield redis
    finally:
        await redis.aclose()


class TestCreateRedis:
    async def test_values_come_back_as_text(self, client: Redis, redis_prefix: str) -> None:
        key = f"{redis_prefix}greeting"

        await client.set(key, "grüß dich", ex=60)

        assert await client.get(key) == "grüß dich"

    async def test_an_unreachable_redis_fails_fast(self) -> None:
        unreachable = create_redis(settings(f"redis://127.0.0.1:{free_port()}/0"))
        started = time.monotonic()
        try:
            with pytest.raises(RedisConnectionError):
                await unreachable.ping()
        finally:
            await unreachable.aclose()

        assert time.monotonic() - started < 3

    async def test_connections_carry_the_service_name(
        self, redis_url: str, redis_prefix: str
    ) -> None:
        name = f"svc-{redis_prefix.replace(':', '-')}"
        client = create_redis(settings(redis_url, service_name=name))
        try:
            await client.ping()

            assert await connections_named(name, redis_url) == 1
        finally:
            await client.aclose()


class TestPool:
    async def test_requests_beyond_the_pool_wait_for_a_free_connection(
        self, redis_url: str, redis_prefix: str
    ) -> None:
        name = f"svc-{redis_prefix.replace(':', '-')}"
        client = create_redis(
            settings(redis_url, service_name=name, redis_max_connections=2, redis_pool_timeout=5)
        )
        opened: list[int] = []

        async def hold_a_connection() -> None:
            # Each BLPOP keeps its connection for 0.2 s; 12 of them on 2 connections queue up.
            await client.blpop([f"{redis_prefix}nothing"], timeout=0.2)
            opened.append(await connections_named(name, redis_url))

        try:
            started = time.monotonic()
            await asyncio.gather(*(hold_a_connection() for _ in range(12)))
            elapsed = time.monotonic() - started
        finally:
            await client.aclose()

        assert max(opened) <= 2
        assert elapsed >= 1.0  # six rounds of two, not twelve at once

    async def test_a_wait_longer_than_the_pool_timeout_is_pool_exhausted(
        self, redis_url: str
    ) -> None:
        client = create_redis(settings(redis_url, redis_max_connections=1, redis_pool_timeout=0.1))
        pool = client.connection_pool
        assert isinstance(pool, BackPressurePool)
        held = await pool.get_connection()
        try:
            started = time.monotonic()
            with pytest.raises(RedisPoolExhausted) as caught:
                await client.ping()
            waited = time.monotonic() - started
        finally:
            await pool.release(held)
            await client.aclose()

        assert 0.1 <= waited < 1
        # Saturation is not an outage: code that falls back when Redis is down must not take
        # it for one.
        assert not isinstance(caught.value, RedisError)

    async def test_a_connection_returned_in_time_is_taken_by_the_waiting_request(
        self, redis_url: str
    ) -> None:
        client = create_redis(settings(redis_url, redis_max_connections=1, redis_pool_timeout=5))
        pool = client.connection_pool
        assert isinstance(pool, BackPressurePool)
        held = await pool.get_connection()
        try:
            waiting = asyncio.ensure_future(client.ping())
            await asyncio.sleep(0.2)
            assert not waiting.done()
            await pool.release(held)

            assert await asyncio.wait_for(waiting, timeout=2) is True
        finally:
            await client.aclose()

    async def test_an_unreachable_redis_is_still_a_connection_error(self) -> None:
        client = create_redis(
            settings(f"redis://127.0.0.1:{free_port()}/0", redis_max_connections=1)
        )
        try:
            with pytest.raises(RedisConnectionError) as caught:
                await client.ping()
        finally:
            await client.aclose()

        assert not isinstance(caught.value, RedisPoolExhausted)


class TestKeySpace:
    def test_joins_the_parts_after_the_prefix(self) -> None:
        assert KeySpace("app:").key("login", "ip", "1.2.3.4") == "app:login:ip:1.2.3.4"

    def test_an_empty_prefix_leaves_the_key_alone(self) -> None:
        assert KeySpace("").key("login", "ip") == "login:ip"

    def test_a_single_part_is_the_prefixed_part(self) -> None:
        assert KeySpace("app:").key("counter") == "app:counter"

    async def test_keys_stay_inside_their_prefix(self, client: Redis, redis_prefix: str) -> None:
        mine, theirs = KeySpace(redis_prefix), KeySpace(f"{redis_prefix}other:")
        await client.set(mine.key("counter"), "1", ex=60)
        await client.set(theirs.key("counter"), "2", ex=60)

        found = sorted([key async for key in client.scan_iter(match=f"{redis_prefix}*")])

        assert found == [f"{redis_prefix}counter", f"{redis_prefix}other:counter"]
        assert await client.get(mine.key("counter")) == "1"
        assert await client.get(theirs.key("counter")) == "2"
