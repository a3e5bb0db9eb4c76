"""The gateway's readiness: each upstream's own `/health/ready`, asked in parallel.

The gateway is ready only when every upstream is: a client of the gateway may call any route,
and the routes of a service that is not ready would fail. (An optional upstream that should
only degrade the gateway is not a thing yet: all of them must be ready.) `/health/ready` lists
each upstream's state by name: `ok`, `unavailable` (no answer in time, a refused connection, an
answer that is not a readiness answer), or the upstream's own status word when it answered
that it is not ready. Neither the upstream's URL nor an exception's text is shown.

Each upstream's result is kept for `UPSTREAM_READY_CACHE_SECONDS` after it came, and probes
that arrive while a check is under way wait for that one: a storm of probes costs each
upstream one request per cache period. A check takes at most `UPSTREAM_READY_TIMEOUT`.
"""

from __future__ import annotations

import asyncio
import json
import logging
import re
import time
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass

import aiohttp

from common.health import HealthCheck, NotReady
from gateway.settings import Upstream

logger = logging.getLogger(__name__)

READY_PATH = "/health/ready"
UNAVAILABLE = "unavailable"
# An upstream's readiness answer is a small JSON document; more is not one.
_MAX_ANSWER_BYTES = 64 * 1024
# The status words of an upstream that are shown as they are; anything else is `unavailable`.
_STATUS_WORD = re.compile(r"[a-z][a-z_]{0,31}")


@dataclass
class _Entry:
    task: asyncio.Task[str] | None = None
    expires: float = 0.0


class UpstreamReadiness:
    """The readiness checks of the upstreams, one per name, cached and shared (`checks`)."""

    def __init__(
        self,
        session: aiohttp.ClientSession,
        upstreams: Mapping[str, Upstream],
        *,
        timeout: float,
        cache_seconds: float,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._session = session
        self._urls = {name: upstream.url + READY_PATH for name, upstream in upstreams.items()}
        self._timeout = timeout
        self._cache_seconds = cache_seconds
        self._clock = clock
        self._entries = {name: _Entry() for name in upstreams}

    @property
    def checks(self) -> dict[str, HealthCheck]:
        """A check per upstream, for `common.health`: raises `NotReady` when it is not ready."""
        return {name: self._check_of(name) for name in self._urls}

    def _check_of(self, name: str) -> Callable[[], Awaitable[None]]:
        async def check() -> None:
            status = await self.status(name)
            if status != "ok":
                raise NotReady(status)

        return check

    async def status(self, name: str) -> str:
        """`ok`, `unavailable` or the upstream's own word: the last result while it is fresh,
        the check under way if there is one, else a new check."""
        entry = self._entries[name]
        if entry.task is None or (entry.task.done() and self._clock() >= entry.expires):
            entry.task = asyncio.ensure_future(self._ask(name))
            entry.task.add_done_callback(lambda _: self._expire_later(entry))
        # Shielded: a probe that gives up does not cancel the check the others wait for.
        return await asyncio.shield(entry.task)

    def _expire_later(self, entry: _Entry) -> None:
        entry.expires = self._clock() + self._cache_seconds

    async def _ask(self, name: str) -> str:
        try:
            async with (
                asyncio.timeout(self._timeout),
                self._session.get(
                    self._urls[name],
                    headers={"Accept": "application/json", "Accept-Encoding": "identity"},
                    allow_redirects=False,
                ) as response,
            ):
                body = await response.content.read(_MAX_ANSWER_BYTES)
                answered = response.status
        except Exception as exc:  # noqa: BLE001 (any failure means not ready; say which)
            logger.warning("upstream %s readiness failed: %s", name, exc.__class__.__name__)
            return UNAVAILABLE
        return _status_of(answered, body)

    async def aclose(self) -> None:
        """Cancels the checks under way (before the session closes)."""
        tasks = [entry.task for entry in self._entries.values() if entry.task is not None]
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)


def _status_of(http_status: int, body: bytes) -> str:
    """`ok` for a 200 whose body says `ok`; the upstream's own status word for one that says
    otherwise (when it is a plain word); `unavailable` for anything else."""
    try:
        document = json.loads(body)
    except ValueError:
        return UNAVAILABLE
    said = document.get("status") if isinstance(document, dict) else None
    if not isinstance(said, str) or not _STATUS_WORD.fullmatch(said):
        return UNAVAILABLE
    if said == "ok":
        return "ok" if http_status == 200 else UNAVAILABLE
    return said
