"""The routing table: which upstream serves a path, by its longest matching prefix."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

import aiohttp

from gateway.settings import Upstream


@dataclass(frozen=True, slots=True)
class Route:
    prefix: str
    name: str
    upstream: Upstream
    # The upstream's timeouts as aiohttp takes them: `connect` covers waiting for a pooled
    # connection and making a new one; `sock_read` is the longest silence (no total: a long
    # download that keeps flowing may take as long as it takes).
    timeout: aiohttp.ClientTimeout = field(init=False, compare=False)

    def __post_init__(self) -> None:
        upstream = self.upstream
        timeout = aiohttp.ClientTimeout(
            total=None,
            connect=upstream.connect_timeout,
            sock_connect=upstream.connect_timeout,
            sock_read=upstream.read_timeout,
        )
        object.__setattr__(self, "timeout", timeout)


class RoutingTable:
    """Prefixes matched on whole segments: `/api/v1/users` serves `/api/v1/users` and
    `/api/v1/users/...`, never `/api/v1/usersx`. Where several match, the longest wins."""

    def __init__(self, routes: Mapping[str, str], upstreams: Mapping[str, Upstream]) -> None:
        self._routes = {
            prefix: Route(prefix, name, upstreams[name]) for prefix, name in routes.items()
        }
        # Lengths to try, longest first: a lookup is a few dictionary probes, whatever the
        # number of routes.
        self._lengths = sorted({len(prefix) for prefix in self._routes}, reverse=True)

    def match(self, path: str) -> Route | None:
        for length in self._lengths:
            if len(path) < length or (len(path) > length and path[length] != "/"):
                continue
            route = self._routes.get(path[:length])
            if route is not None:
                return route
        return None
