"""Revoked access tokens: the in-memory list every verifier checks, and the feed that fills it
from the Redis stream auth publishes on (real Redis, a server of the test's own for outages)."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Callable
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric.rsa import RSAPrivateKey
from redis.asyncio import Redis

from common.security import (
    REVOCATION_FIELD,
    Principal,
    Revocation,
    RevocationFeed,
    RevocationList,
    RevocationsUnavailable,
    TokenRevoked,
    TokenVerifier,
)
from common.security.revocation import MAX_CLOCK_SKEW_SECONDS, MAX_TOKEN_LIFETIME_SECONDS
from common.testing import RedisServer

from .conftest import JwkOf, Mint


class Ticker:
    """A monotonic clock the test moves by hand."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def principal(
    *,
    subject: str = "user-1",
    issued_at: int = 1_700_000_000,
    session_id: str | None = "session-1",
    roles: frozenset[str] = frozenset({"user"}),
) -> Principal:
    return Principal(
        subject=subject,
        roles=roles,
        permissions=frozenset(),
        token_id="t",
        expires_at=issued_at + 900,
        session_id=session_id,
        issued_at=issued_at,
    )


def synced_list(**options: float | bool) -> RevocationList:
    revocations = RevocationList(**options)  # type: ignore[arg-type]
    revocations.synced()
    return revocations


class TestRevocation:
    def test_starts_at_the_next_whole_second(self) -> None:
        revocation = Revocation.starting("sub", "user-1", at=1_700_000_000.25)
        assert revocation.not_before == 1_700_000_001
        assert revocation.expires_at == 1_700_000_001 + MAX_TOKEN_LIFETIME_SECONDS

    def test_round_trips_through_json(self) -> None:
        revocation = Revocation.starting("role", "admin", at=5.0)
        assert Revocation.from_json(revocation.to_json()) == revocation

    @pytest.mark.parametrize(
        "text",
        [
            "not json",
            "[]",
            json.dumps({"kind": "jti", "value": "x", "not_before": 1, "expires_at": 2}),
            json.dumps({"kind": "sub", "value": "", "not_before": 1, "expires_at": 2}),
            json.dumps({"kind": "sub", "value": 7, "not_before": 1, "expires_at": 2}),
            json.dumps({"kind": "sub", "value": "x", "not_before": "1", "expires_at": 2}),
            json.dumps({"kind": "sub", "value": "x", "not_before": True, "expires_at": 2}),
            json.dumps({"kind": "sub", "value": "x", "not_before": 1.5, "expires_at": 2}),
        ],
    )
    def test_refuses_anything_malformed(self, text: str) -> None:
        with pytest.raises(ValueError):  # noqa: PT011 (json's errors are ValueErrors too)
            Revocation.from_json(text)


class TestRevocationList:
    def test_refuses_a_token_issued_before_its_subjects_revocation(self) -> None:
        revocations = synced_list()
        revocations.apply(Revocation.starting("sub", "user-1", at=1_700_000_100.5))
        with pytest.raises(TokenRevoked):
            revocations.check(principal(issued_at=1_700_000_100))
        revocations.check(principal(issued_at=1_700_000_101))
        revocations.check(principal(subject="user-2", issued_at=1_700_000_000))

    def test_refuses_a_revoked_session_only(self) -> None:
        revocations = synced_list()
        revocations.apply(Revocation.starting("sid", "session-1", at=1_700_000_100))
        with pytest.raises(TokenRevoked):
            revocations.check(principal())
        revocations.check(principal(session_id="session-2"))
        revocations.check(principal(session_id=None))

    def test_refuses_tokens_carrying_a_revoked_role(self) -> None:
        revocations = synced_list()
        revocations.apply(Revocation.starting("role", "admin", at=1_700_000_100))
        with pytest.raises(TokenRevoked):
            revocations.check(principal(roles=frozenset({"user", "admin"})))
        revocations.check(principal(roles=frozenset({"user"})))

    def test_keeps_the_latest_of_two_revocations(self) -> None:
        revocations = synced_list()
        revocations.apply(Revocation.starting("sub", "user-1", at=1_700_000_200))
        revocations.apply(Revocation.starting("sub", "user-1", at=1_700_000_100))
        with pytest.raises(TokenRevoked):
            revocations.check(principal(issued_at=1_700_000_150))

    def test_says_when_a_new_token_may_be_issued(self) -> None:
        revocations = synced_list()
        revocations.apply(Revocation.starting("sub", "user-1", at=100.5))
        revocations.apply(Revocation.starting("role", "admin", at=200.5))
        assert revocations.not_before("user-1") == 101
        assert revocations.not_before("user-1", {"admin"}) == 201
        assert revocations.not_before("user-2") == 0

    def test_forgets_revocations_every_token_has_outlived(self) -> None:
        revocations = synced_list()
        old = Revocation.starting("sub", "user-1", at=100)
        revocations.apply(old)
        revocations.purge(old.expires_at - 1)
        assert len(revocations) == 1
        revocations.purge(old.expires_at + 1)
        assert len(revocations) == 0

    def test_bounds_what_a_forged_entry_can_ask(self) -> None:
        """A `not_before` far ahead would make the issuer wait for it, and an `expires_at` far
        ahead would keep the entry forever: both are cut to what auth can have written."""
        revocations = RevocationList(wall=lambda: 1_700_000_000.0)
        revocations.apply(Revocation("sub", "user-1", 1_700_009_999, 1_900_000_000))
        assert revocations.not_before("user-1") == 1_700_000_000 + MAX_CLOCK_SKEW_SECONDS
        revocations.purge(1_700_000_000 + MAX_CLOCK_SKEW_SECONDS + MAX_TOKEN_LIFETIME_SECONDS + 1)
        assert len(revocations) == 0

    def test_refuses_every_token_before_the_first_read(self) -> None:
        with pytest.raises(RevocationsUnavailable):
            RevocationList().check(principal())

    def test_trusts_what_it_knows_for_the_allowed_lag_then_refuses(self) -> None:
        clock = Ticker()
        revocations = RevocationList(max_lag_seconds=10, clock=clock)
        revocations.synced()
        clock.now += 10
        revocations.check(principal())
        clock.now += 0.5
        with pytest.raises(RevocationsUnavailable):
            revocations.check(principal())

    def test_fails_open_when_told_to_but_still_refuses_what_it_knows(self) -> None:
        revocations = RevocationList(fail_open=True)
        revocations.check(principal())
        revocations.apply(Revocation.starting("sub", "user-1", at=1_700_000_100))
        with pytest.raises(TokenRevoked):
            revocations.check(principal())


async def publish(redis: Redis, stream: str, revocation: Revocation | str) -> None:
    payload = revocation if isinstance(revocation, str) else revocation.to_json()
    await redis.xadd(stream, {REVOCATION_FIELD: payload})


async def until(condition: Callable[[], bool], seconds: float = 3.0) -> None:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + seconds
    while not condition():
        if loop.time() > deadline:
            raise AssertionError("condition not reached in time")
        await asyncio.sleep(0.01)


class TestRevocationFeed:
    async def test_reads_what_was_published_before_it_started(
        self, redis: Redis, redis_prefix: str
    ) -> None:
        stream = f"{redis_prefix}revocations"
        now = time.time()
        for index in range(2500):  # more than one page
            await publish(redis, stream, Revocation.starting("sid", f"s{index}", at=now))
        revocations = RevocationList()
        await RevocationFeed(redis, stream, revocations).catch_up()
        assert len(revocations) == 2500
        assert revocations.fresh

    async def test_follows_what_is_published_afterwards_and_skips_junk(
        self, redis: Redis, redis_prefix: str
    ) -> None:
        stream = f"{redis_prefix}revocations"
        revocations = RevocationList()
        feed = RevocationFeed(redis, stream, revocations, block_ms=200)
        await feed.catch_up()
        task = asyncio.create_task(feed.run())
        try:
            await publish(redis, stream, "{broken")
            await redis.xadd(stream, {"other": "field"})
            await publish(redis, stream, Revocation.starting("sub", "user-1", at=1_700_000_100))
            await until(lambda: len(revocations) == 1)
            with pytest.raises(TokenRevoked):
                revocations.check(principal())
        finally:
            feed.stop()
            await task

    async def test_goes_stale_while_redis_is_down_and_catches_up_after(self) -> None:
        with RedisServer() as server:
            stream = "revocations"
            client = Redis.from_url(server.url, decode_responses=True, socket_timeout=2)
            revocations = RevocationList(max_lag_seconds=0.5)
            feed = RevocationFeed(client, stream, revocations, block_ms=100)
            await feed.catch_up()
            task = asyncio.create_task(feed.run())
            try:
                server.stop()
                await until(lambda: not revocations.fresh)
                with pytest.raises(RevocationsUnavailable):
                    revocations.check(principal())
                server.start()
                publisher = Redis.from_url(server.url, decode_responses=True)
                revoked = Revocation.starting("sub", "user-1", at=1_700_000_100)
                await publish(publisher, stream, revoked)
                await publisher.aclose()
                await until(lambda: revocations.fresh and len(revocations) == 1, seconds=10)
                with pytest.raises(TokenRevoked):
                    revocations.check(principal())
            finally:
                feed.stop()
                await task
                await client.aclose()


class TestVerifierChecksRevocations:
    async def test_a_cached_token_is_refused_once_revoked(
        self,
        mint: Mint,
        jwk_of: JwkOf,
        signing_key: RSAPrivateKey,
        issuer: str,
        audience: str,
    ) -> None:
        async def source() -> dict[str, Any]:
            return {"keys": [jwk_of(signing_key, "key-1")]}

        revocations = synced_list()
        verifier = TokenVerifier(source, issuer=issuer, audience=audience, revocations=revocations)
        now = int(time.time())
        token = mint(sub="user-9", iat=now)
        assert (await verifier.verify(token)).subject == "user-9"
        assert (await verifier.verify(token)).subject == "user-9"  # now from the cache
        revocations.apply(Revocation.starting("sub", "user-9", at=now))
        with pytest.raises(TokenRevoked):
            await verifier.verify(token)
