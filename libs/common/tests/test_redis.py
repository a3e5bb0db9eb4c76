"""The Redis client of a service and `KeySpace`, the prefix every key goes through so several
deployments (or test runs) can share one Redis."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator

import pytest
from redis.asyncio import Redis
from redis.exceptions import ConnectionError as RedisConnectionError

from common.redis import KeySpace, create_redis
from common.settings import ServiceSettings
from common.testing import free_port


def settings(redis_url: str) -> ServiceSettings:
    return ServiceSettings(_env_file=None, environment="test", redis_url=redis_url)


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
