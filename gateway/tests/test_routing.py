"""The routing table: longest prefix, whole segments."""

from __future__ import annotations

import pytest

from gateway.routing import RoutingTable
from gateway.settings import Upstream

UPSTREAMS = {name: Upstream(url=f"http://{name}.internal:8000") for name in ("a", "b", "c")}
TABLE = RoutingTable(
    {"/api/v1/users": "a", "/api/v1/users/admin": "b", "/api/v1/u": "c", "/.well-known": "a"},
    UPSTREAMS,
)


class TestMatch:
    @pytest.mark.parametrize(
        ("path", "name"),
        [
            ("/api/v1/users", "a"),
            ("/api/v1/users/", "a"),
            ("/api/v1/users/7/roles", "a"),
            ("/api/v1/users/admin", "b"),
            ("/api/v1/users/admin/x", "b"),
            ("/api/v1/users/administrator", "a"),
            ("/api/v1/u/x", "c"),
            ("/.well-known/jwks.json", "a"),
        ],
    )
    def test_the_longest_prefix_on_segment_boundaries_wins(self, path: str, name: str) -> None:
        route = TABLE.match(path)

        assert route is not None
        assert route.name == name
        assert route.upstream is UPSTREAMS[name]

    @pytest.mark.parametrize(
        "path", ["/", "", "/api", "/api/v1", "/api/v1/usersx", "/api/v1/us", "/.well-knownx"]
    )
    def test_a_path_under_no_prefix_has_no_route(self, path: str) -> None:
        assert TABLE.match(path) is None

    def test_each_route_carries_its_upstreams_timeouts(self) -> None:
        table = RoutingTable(
            {"/x": "slow"},
            {"slow": Upstream(url="http://slow:1", connect_timeout=1.5, read_timeout=90)},
        )

        route = table.match("/x")
        assert route is not None
        assert (route.timeout.connect, route.timeout.sock_connect) == (1.5, 1.5)
        assert (route.timeout.sock_read, route.timeout.total) == (90, None)
