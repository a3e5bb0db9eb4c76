"""How a long-running loop (the outbox relay, a stream consumer) waits out an outage and keeps
its gauges fresh, written once.

    backoff = Backoff("audit relay", logger, ceiling=30.0, errors=metrics.errors)
    while running:
        try:
            await one_pass()
        except Exception as exc:
            await sleep(backoff.failed(exc))   # 0.1 s, 0.2 s, ... up to the ceiling
            continue
        backoff.recovered()
"""

from __future__ import annotations

import logging
import time

from prometheus_client import Counter

INITIAL_DELAY = 0.1
# Log the first failure and every tenth after it: an outage of minutes is a few lines, not
# thousands.
LOG_EVERY = 10


class Backoff:
    """Doubling delays from INITIAL_DELAY up to `ceiling`, counted in `errors` when given."""

    def __init__(
        self,
        what: str,
        logger: logging.Logger,
        *,
        ceiling: float,
        errors: Counter | None = None,
    ) -> None:
        self.what = what
        self.logger = logger
        self.ceiling = ceiling
        self.errors = errors
        self.failures = 0

    def failed(self, exc: BaseException) -> float:
        """Count a failed pass; returns how long to wait before the next one."""
        self.failures += 1
        if self.errors is not None:
            self.errors.inc()
        delay: float = min(self.ceiling, INITIAL_DELAY * 2.0 ** min(self.failures - 1, 16))
        if self.failures == 1 or self.failures % LOG_EVERY == 0:
            self.logger.warning(
                "%s failed %d time(s), retrying in %.1fs: %r",
                self.what,
                self.failures,
                delay,
                exc,
                exc_info=exc if self.failures == 1 else None,
            )
        return delay

    def recovered(self) -> None:
        """A pass succeeded: the next failure starts from the shortest delay again."""
        if self.failures:
            self.logger.info("%s recovered after %d failure(s)", self.what, self.failures)
            self.failures = 0


class Every:
    """True at most once per `seconds` (and the first time it is asked): for work a loop does
    now and then, such as reading the gauges of a backlog."""

    def __init__(self, seconds: float) -> None:
        self.seconds = seconds
        self._last: float | None = None

    def due(self) -> bool:
        now = time.monotonic()
        if self._last is not None and now - self._last < self.seconds:
            return False
        self._last = now
        return True
