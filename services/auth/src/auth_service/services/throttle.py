"""Redis-backed counters that slow brute force and floods: failed logins per account and per
client address, password-change attempts, reset mails per address, registrations and failed
client-credentials per address.

Each attempt *reserves* its hit before any work is done (one Lua script: refuse if any counter
is at its limit, else count the attempt on every counter), so a burst of concurrent attempts
cannot all pass a check made before any of them was counted; refused attempts cost no hashing.
An attempt that turns out fine gives its reservation back (`release`), or clears the account's
failures altogether (`clear`). A counter starts at its first hit and expires `window` seconds
later (fixed window). Accounts are keyed by a hash of the e-mail, so Redis never holds the
addresses; unknown and known e-mails are counted alike, so throttling reveals nothing about
which accounts exist.

A refusal says whether it is the first one of its counter's window (`Refused.first`): the audit
trail records the transition into "throttled" once, the rest only count in a metric.
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Sequence
from dataclasses import dataclass

from prometheus_client import CollectorRegistry, Counter
from redis.asyncio import Redis
from redis.exceptions import RedisError

from auth_service.exceptions import ThrottleUnavailable
from common.redis import KeySpace

logger = logging.getLogger(__name__)

# KEYS: the counters; ARGV: limit and window of each, in the same order.
# Refused: {0, seconds to wait, 1 if this is the first refusal of the window else 0, index (from
# 1) of the counter that refused}.
# Reserved: {1, hits the first counter had before this attempt}.
_RESERVE = """
local wait = -1
local blocking = nil
local index = 0
for i, key in ipairs(KEYS) do
  local limit = tonumber(ARGV[2 * i - 1])
  local window = tonumber(ARGV[2 * i])
  local hits = tonumber(redis.call('GET', key) or '0')
  if hits >= limit then
    local ttl = redis.call('TTL', key)
    if ttl < 0 then
      redis.call('EXPIRE', key, window)
      ttl = window
    end
    if ttl > wait then
      wait = ttl
      blocking = key
      index = i
    end
  end
end
if blocking then
  local first = redis.call('SET', blocking .. ':refused', '1', 'NX', 'EX', wait)
  return {0, wait, first and 1 or 0, index}
end
local before = 0
for i, key in ipairs(KEYS) do
  local hits = redis.call('INCR', key)
  if hits == 1 then
    redis.call('EXPIRE', key, tonumber(ARGV[2 * i]))
  end
  if i == 1 then
    before = hits - 1
  end
end
return {1, before}
"""

# KEYS: counters; the first ARGV[1] of them are cleared, the others get one hit back (never
# below zero).
_RELEASE = """
local cleared = tonumber(ARGV[1])
for i, key in ipairs(KEYS) do
  local hits = tonumber(redis.call('GET', key) or '0')
  if i <= cleared or hits <= 1 then
    redis.call('DEL', key)
  else
    redis.call('DECR', key)
  end
end
return 0
"""


def email_key(email: str) -> str:
    return hashlib.sha256(email.casefold().encode()).hexdigest()[:32]


@dataclass(frozen=True, slots=True)
class Limit:
    name: str
    max_hits: int
    window_seconds: int


Check = tuple[Limit, str]


@dataclass(frozen=True, slots=True)
class Reserved:
    """The attempt is counted; `earlier` is how many hits the first counter already had."""

    earlier: int


@dataclass(frozen=True, slots=True)
class Refused:
    limit: Limit
    retry_after: int
    first: bool


class ThrottleMetrics:
    def __init__(self, registry: CollectorRegistry) -> None:
        self.refused = Counter(
            "auth_throttled_attempts",
            "Attempts refused by a throttle, by the limit that refused them.",
            ["limit"],
            registry=registry,
        )


class Throttle:
    def __init__(
        self,
        redis: Redis,
        keys: KeySpace,
        *,
        fail_open: bool,
        metrics: ThrottleMetrics | None = None,
    ) -> None:
        self.redis = redis
        self.keys = keys
        self.fail_open = fail_open
        self.metrics = metrics
        self._reserve = redis.register_script(_RESERVE)
        self._release = redis.register_script(_RELEASE)

    def _key(self, limit: Limit, subject: str) -> str:
        return self.keys.key("throttle", limit.name, subject)

    async def reserve(self, checks: Sequence[Check]) -> Reserved | Refused:
        """Count this attempt on every counter, or refuse it if any is at its limit (then
        nothing is counted). While Redis is down and the throttle fails open, every attempt is
        let through."""
        keys = [self._key(limit, subject) for limit, subject in checks]
        args = [value for limit, _ in checks for value in (limit.max_hits, limit.window_seconds)]
        try:
            reply = await self._reserve(keys=keys, args=args)
        except RedisError as exc:
            self._unavailable(exc)
            return Reserved(earlier=0)
        if int(reply[0]) == 1:
            return Reserved(earlier=int(reply[1]))
        blocking = checks[int(reply[3]) - 1][0]
        if self.metrics is not None:
            self.metrics.refused.labels(blocking.name).inc()
        return Refused(limit=blocking, retry_after=max(1, int(reply[1])), first=bool(reply[2]))

    async def release(self, checks: Sequence[Check], *, clear: Sequence[Check] = ()) -> None:
        """Give back one hit on each of `checks` (the attempt did not count against them) and
        reset the counters of `clear`, in one round trip."""
        keys = [self._key(limit, subject) for limit, subject in (*clear, *checks)]
        try:
            await self._release(keys=keys, args=[len(clear)])
        except RedisError as exc:
            self._unavailable(exc)

    def _unavailable(self, exc: RedisError) -> None:
        if not self.fail_open:
            raise ThrottleUnavailable from exc
        logger.warning("throttling skipped, Redis unavailable: %r", exc)
