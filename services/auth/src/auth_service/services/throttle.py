"""Redis-backed counters that slow brute force: failed logins per account and per client IP,
and password-reset requests per address.

A counter starts at the first hit and expires `window` seconds later (fixed window). Accounts are
keyed by a hash of the e-mail, so Redis never holds the addresses. Unknown and known e-mails
are counted alike, so throttling reveals nothing about which accounts exist.
"""

from __future__ import annotations

import hashlib
import logging
from dataclasses import dataclass

from redis.asyncio import Redis
from redis.exceptions import RedisError

from auth_service.exceptions import LoginThrottled, ThrottleUnavailable
from common.errors import RateLimited
from common.redis import KeySpace

logger = logging.getLogger(__name__)


def _email_key(email: str) -> str:
    return hashlib.sha256(email.casefold().encode()).hexdigest()[:32]


@dataclass(frozen=True, slots=True)
class Limit:
    name: str
    max_hits: int
    window_seconds: int


def _retry_after(checks: list[tuple[Limit, str]], counters: list[tuple[int, int]]) -> int | None:
    wait = 0
    for (limit, _), (hits, ttl) in zip(checks, counters, strict=True):
        if hits >= limit.max_hits:
            wait = max(wait, ttl or limit.window_seconds)
    return wait or None


class Throttle:
    def __init__(self, redis: Redis, keys: KeySpace, *, fail_open: bool) -> None:
        self.redis = redis
        self.keys = keys
        self.fail_open = fail_open

    def _key(self, limit: Limit, subject: str) -> str:
        return self.keys.key("throttle", limit.name, subject)

    async def counters(self, checks: list[tuple[Limit, str]]) -> list[tuple[int, int]]:
        """(hits, seconds left in the window) of each counter, in one round trip; zeros while
        Redis is down and the throttle fails open."""
        try:
            async with self.redis.pipeline(transaction=False) as pipe:
                for limit, subject in checks:
                    key = self._key(limit, subject)
                    pipe.get(key)
                    pipe.ttl(key)
                replies = await pipe.execute()
        except RedisError as exc:
            self._unavailable(exc)
            return [(0, 0)] * len(checks)
        return [
            (int(replies[2 * i] or 0), max(int(replies[2 * i + 1] or 0), 0))
            for i in range(len(checks))
        ]

    async def retry_after(self, checks: list[tuple[Limit, str]]) -> int | None:
        """Seconds to wait if any counter is at its limit, else None."""
        return _retry_after(checks, await self.counters(checks))

    async def hit(self, checks: list[tuple[Limit, str]]) -> None:
        try:
            async with self.redis.pipeline(transaction=False) as pipe:
                for limit, subject in checks:
                    key = self._key(limit, subject)
                    pipe.incr(key)
                    pipe.expire(key, limit.window_seconds, nx=True)
                await pipe.execute()
        except RedisError as exc:
            self._unavailable(exc)

    async def clear(self, limit: Limit, subject: str) -> None:
        try:
            await self.redis.delete(self._key(limit, subject))
        except RedisError as exc:
            self._unavailable(exc)

    def _unavailable(self, exc: RedisError) -> None:
        if not self.fail_open:
            raise ThrottleUnavailable from exc
        logger.warning("throttling skipped, Redis unavailable: %r", exc)


class LoginThrottle:
    def __init__(
        self,
        throttle: Throttle,
        *,
        max_per_account: int,
        max_per_ip: int,
        window_seconds: int,
    ) -> None:
        self.throttle = throttle
        self.account = Limit("login-account", max_per_account, window_seconds)
        self.ip = Limit("login-ip", max_per_ip, window_seconds)

    def _checks(self, email: str, ip: str | None) -> list[tuple[Limit, str]]:
        checks = [(self.account, _email_key(email))]
        if ip:
            checks.append((self.ip, ip))
        return checks

    async def check(self, email: str, ip: str | None) -> bool:
        """Refuses with 429 at the limit; otherwise says whether the account has failures
        on record (only then does a success need to clear them)."""
        checks = self._checks(email, ip)
        counters = await self.throttle.counters(checks)
        wait = _retry_after(checks, counters)
        if wait is not None:
            raise LoginThrottled(retry_after=wait)
        return counters[0][0] > 0

    async def failed(self, email: str, ip: str | None) -> None:
        await self.throttle.hit(self._checks(email, ip))

    async def succeeded(self, email: str) -> None:
        await self.throttle.clear(self.account, _email_key(email))


class ResetThrottle:
    """Per address: requests beyond the limit are dropped silently (the answer stays the same,
    no mail is sent). Per IP: a 429, which reveals nothing about any account."""

    def __init__(self, throttle: Throttle, *, max_per_address: int) -> None:
        self.throttle = throttle
        self.address = Limit("reset-address", max_per_address, 3600)
        self.ip = Limit("reset-ip", max_per_address * 10, 3600)

    async def allow(self, email: str, ip: str | None) -> bool:
        if ip:
            wait = await self.throttle.retry_after([(self.ip, ip)])
            if wait is not None:
                raise RateLimited(retry_after=wait)
        checks = [(self.address, _email_key(email))]
        allowed = await self.throttle.retry_after(checks) is None
        await self.throttle.hit(checks + ([(self.ip, ip)] if ip else []))
        return allowed
