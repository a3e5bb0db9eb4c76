"""Access tokens revoked before they expire: held in memory by every verifier, fed over Redis.

Auth publishes a `Revocation` whenever a token must stop working at once: `sub` when an account
is deactivated, demoted, reset or signed out everywhere; `sid` when one session ends (sign-out,
a password change ending the other sessions, a refresh token presented twice); `role` when a
role loses permissions. A verifier refuses a token that matches one and was issued before its
`not_before` (whole seconds, like `iat`; the issuer never issues a matching token before that
second: it waits, at most one second, right after a revocation that concerns the subject).

The revocations travel on a Redis stream (`TOKEN_REVOCATION_STREAM`) that auth trims to the
revocations that can still matter (a revocation is moot once every token issued before it has
expired), so the stream is also the snapshot a verifier reads when it starts: `RevocationFeed`
reads it from the beginning and then follows it. The hot path is dictionary lookups in memory.

While the feed cannot reach Redis, a verifier cannot know what was revoked meanwhile: for
`TOKEN_REVOCATION_MAX_LAG_SECONDS` it goes on with what it knows; after that (and before its
first read) it refuses every token with 503 `revocations_unavailable`, unless
`TOKEN_REVOCATION_FAIL_OPEN=true` lets tokens through unchecked against what it missed.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import math
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, Literal

from redis.asyncio import Redis
from redis.exceptions import RedisError

from common.errors import InvalidToken, ServiceUnavailable
from common.retry import Backoff
from common.security.principal import Principal

logger = logging.getLogger(__name__)

RevocationKind = Literal["sub", "sid", "role"]
REVOCATION_FIELD = "revocation"
# The longest a token can live past its `iat`: the largest ACCESS_TOKEN_TTL_SECONDS (3600) and
# JWT_LEEWAY_SECONDS (300) the settings allow. A revocation is kept that long after it starts.
MAX_TOKEN_LIFETIME_SECONDS = 3600 + 300
# How far ahead of this process's clock a revocation may start (auth's clock may run ahead).
MAX_CLOCK_SKEW_SECONDS = 2
FEED_BATCH = 1000
FEED_BLOCK_MS = 1000
PURGE_INTERVAL_SECONDS = 60.0
MAX_BACKOFF_SECONDS = 5.0


class TokenRevoked(InvalidToken):
    code = "token_revoked"
    message = "The access token has been revoked; sign in again."
    challenge = 'Bearer realm="api", error="invalid_token"'


class RevocationsUnavailable(ServiceUnavailable):
    code = "revocations_unavailable"
    message = "Access tokens cannot be checked against revocations right now; try again later."


@dataclass(frozen=True, slots=True)
class Revocation:
    kind: RevocationKind
    value: str
    not_before: int
    expires_at: int

    @classmethod
    def starting(cls, kind: RevocationKind, value: str, *, at: float) -> Revocation:
        """Refuse every matching token issued at or before `at` (so in the same second too)."""
        not_before = math.floor(at) + 1
        return cls(kind, value, not_before, not_before + MAX_TOKEN_LIFETIME_SECONDS)

    def to_json(self) -> str:
        return json.dumps(
            {
                "kind": self.kind,
                "value": self.value,
                "not_before": self.not_before,
                "expires_at": self.expires_at,
            },
            separators=(",", ":"),
        )

    @classmethod
    def from_json(cls, text: str) -> Revocation:
        """Raises ValueError for anything but a well-formed revocation."""
        data = json.loads(text)
        if not isinstance(data, dict):
            raise ValueError("not an object")
        kind, value = data.get("kind"), data.get("value")
        not_before, expires_at = data.get("not_before"), data.get("expires_at")
        if kind not in ("sub", "sid", "role") or not isinstance(value, str) or not value:
            raise ValueError("bad kind or value")
        if not isinstance(not_before, int) or not isinstance(expires_at, int):
            raise ValueError("bad times")
        if isinstance(not_before, bool) or isinstance(expires_at, bool):
            raise ValueError("bad times")
        return cls(kind, value, not_before, expires_at)


class RevocationList:
    """What this process knows has been revoked, and how fresh that knowledge is."""

    def __init__(
        self,
        *,
        max_lag_seconds: float = 10.0,
        fail_open: bool = False,
        clock: Callable[[], float] = time.monotonic,
        wall: Callable[[], float] = time.time,
    ) -> None:
        self.max_lag_seconds = max_lag_seconds
        self.fail_open = fail_open
        self._clock = clock
        self._wall = wall
        self._entries: dict[RevocationKind, dict[str, tuple[int, int]]] = {
            "sub": {},
            "sid": {},
            "role": {},
        }
        self._subjects = self._entries["sub"]
        self._sessions = self._entries["sid"]
        self._roles = self._entries["role"]
        self._synced_at: float | None = None
        self._warned_at = -math.inf

    def apply(self, revocation: Revocation) -> None:
        """Remember `revocation`. Its times are bounded by what auth can have written: a
        `not_before` at most MAX_CLOCK_SKEW_SECONDS ahead of this clock (the issuer waits for
        it), and an `expires_at` at most one token lifetime after it (the list holds it)."""
        not_before = min(revocation.not_before, int(self._wall()) + MAX_CLOCK_SKEW_SECONDS)
        expires_at = min(revocation.expires_at, not_before + MAX_TOKEN_LIFETIME_SECONDS)
        entries = self._entries[revocation.kind]
        known = entries.get(revocation.value)
        if known is not None:
            not_before, expires_at = max(known[0], not_before), max(known[1], expires_at)
        entries[revocation.value] = (not_before, expires_at)

    def synced(self) -> None:
        """The feed has read everything there was to read, just now."""
        self._synced_at = self._clock()

    @property
    def fresh(self) -> bool:
        return self._synced_at is not None and (
            self._clock() - self._synced_at <= self.max_lag_seconds
        )

    def check(self, principal: Principal) -> None:
        """Raises TokenRevoked if a revocation covers the token, RevocationsUnavailable if this
        process cannot know (see the module's docstring)."""
        if not self.fresh:
            self._stale()
        issued_at = principal.issued_at
        found = self._subjects.get(principal.subject)
        if found is not None and issued_at < found[0]:
            raise TokenRevoked
        if principal.session_id is not None:
            found = self._sessions.get(principal.session_id)
            if found is not None and issued_at < found[0]:
                raise TokenRevoked
        if self._roles:
            for role in principal.roles:
                found = self._roles.get(role)
                if found is not None and issued_at < found[0]:
                    raise TokenRevoked

    def _stale(self) -> None:
        if not self.fail_open:
            raise RevocationsUnavailable
        now = self._clock()
        if now - self._warned_at >= 60:
            self._warned_at = now
            logger.warning("token revocations are stale; accepting tokens unchecked (fail open)")

    def not_before(self, subject: str, roles: frozenset[str] | set[str] = frozenset()) -> int:
        """The earliest `iat` a new token for `subject` with `roles` may carry without being
        refused at once (0 if nothing concerns it)."""
        latest = self._subjects.get(subject, (0, 0))[0]
        for role in roles:
            latest = max(latest, self._roles.get(role, (0, 0))[0])
        return latest

    def purge(self, now: float) -> None:
        """Forget revocations every token they covered has outlived."""
        for entries in self._entries.values():
            for value in [v for v, (_, expires) in entries.items() if expires < now]:
                del entries[value]

    def __len__(self) -> int:
        return sum(len(entries) for entries in self._entries.values())


class RevocationFeed:
    """Reads the revocation stream from its start, then follows it (one dedicated connection,
    so a blocking read never holds a slot of the request pool)."""

    def __init__(
        self,
        redis: Redis,
        stream: str,
        revocations: RevocationList,
        *,
        block_ms: int = FEED_BLOCK_MS,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.redis = redis
        self.stream = stream
        self.revocations = revocations
        self.block_ms = block_ms
        self._clock = clock
        self._last_id = "0-0"
        self._purged_at = 0.0
        self._stopping = asyncio.Event()
        self.caught_up = asyncio.Event()

    def stop(self) -> None:
        self._stopping.set()

    async def read_once(self) -> int:
        """Apply the next batch; returns how many entries it held. Marks the list fresh once
        it holds everything the stream had."""
        # redis-py types the reply loosely: [[stream, [(id, {field: value}), ...]], ...]
        # Until it has caught up, the feed reads without waiting (a snapshot in pages).
        block = self.block_ms if self.caught_up.is_set() else None
        reply: Any = await self.redis.xread(
            {self.stream: self._last_id}, count=FEED_BATCH, block=block
        )
        replies: list[tuple[object, list[tuple[object, Mapping[object, object]]]]] = reply or []
        count = 0
        for _, entries in replies:
            for entry_id, fields in entries:
                count += 1
                self._last_id = _text(entry_id)
                self._apply(fields)
        if count < FEED_BATCH:
            self.revocations.synced()
            self.caught_up.set()
        now = self._clock()
        if now - self._purged_at >= PURGE_INTERVAL_SECONDS:
            self._purged_at = now
            self.revocations.purge(now)
        return count

    def _apply(self, fields: Mapping[object, object]) -> None:
        raw = fields.get(REVOCATION_FIELD, fields.get(REVOCATION_FIELD.encode()))
        try:
            self.revocations.apply(Revocation.from_json(_text(raw)))
        except (ValueError, TypeError):
            logger.warning("ignoring a malformed entry on the revocation stream")

    async def catch_up(self) -> None:
        """Read what the stream holds now (at start-up, before serving); raises what Redis
        raises."""
        while not self.caught_up.is_set():
            await self.read_once()

    async def run(self) -> None:
        backoff = Backoff("revocation feed read", logger, ceiling=MAX_BACKOFF_SECONDS)
        while not self._stopping.is_set():
            try:
                await self.read_once()
            except asyncio.CancelledError:
                raise
            except (RedisError, OSError) as exc:
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._stopping.wait(), timeout=backoff.failed(exc))
                continue
            backoff.recovered()


def _text(value: object) -> str:
    if isinstance(value, bytes):
        return value.decode()
    if isinstance(value, str):
        return value
    raise TypeError("not text")
