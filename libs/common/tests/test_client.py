"""The client's address: the TCP peer unless it is a trusted proxy; never text a client chose."""

from __future__ import annotations

from typing import Any

import pytest

from common.client import address_bucket, client_address, client_info, parse_networks
from common.settings import ServiceSettings

PROXIES = parse_networks(("10.0.0.0/8", "::1"))


def scope(peer: str | None, *forwarded: str, user_agent: str | None = None) -> dict[str, Any]:
    headers = [(b"x-forwarded-for", value.encode()) for value in forwarded]
    if user_agent is not None:
        headers.append((b"user-agent", user_agent.encode()))
    return {"type": "http", "client": (peer, 4321) if peer else None, "headers": headers}


class TestClientAddress:
    def test_without_trusted_proxies_the_peer_is_the_client(self) -> None:
        assert str(client_address(scope("192.0.2.1", "198.51.100.7"))) == "192.0.2.1"

    def test_an_untrusted_peer_cannot_claim_another_address(self) -> None:
        found = client_address(scope("192.0.2.1", "198.51.100.7"), PROXIES)
        assert str(found) == "192.0.2.1"

    def test_a_trusted_proxy_names_the_client(self) -> None:
        found = client_address(scope("10.1.2.3", "198.51.100.7"), PROXIES)
        assert str(found) == "198.51.100.7"

    def test_the_chain_is_walked_past_trusted_hops_only(self) -> None:
        # The client prepended a forged hop; the first untrusted address from the right wins.
        found = client_address(scope("10.1.2.3", "6.6.6.6, 198.51.100.7, 10.9.9.9"), PROXIES)
        assert str(found) == "198.51.100.7"

    def test_several_header_lines_form_one_chain(self) -> None:
        found = client_address(scope("10.1.2.3", "198.51.100.7", "10.9.9.9"), PROXIES)
        assert str(found) == "198.51.100.7"

    @pytest.mark.parametrize(
        "junk", ["x" * 100, "unknown", "", "1.2.3.4.5", "<script>", "01.02.03.04", "1.2.3.4:x"]
    )
    def test_a_hop_that_is_not_an_address_makes_the_client_unknown(self, junk: str) -> None:
        """Never the proxy's own address: every client would share its bucket."""
        found = client_address(scope("10.1.2.3", f"198.51.100.7, {junk}"), PROXIES)
        assert found is None

    @pytest.mark.parametrize(
        ("hop", "client"),
        [
            ("198.51.100.7:5555", "198.51.100.7"),
            ("[2001:db8::1]:443", "2001:db8::1"),
            ("[2001:db8::1]", "2001:db8::1"),
        ],
    )
    def test_a_hop_with_a_port_names_its_address(self, hop: str, client: str) -> None:
        assert str(client_address(scope("10.1.2.3", hop), PROXIES)) == client

    def test_a_peer_that_is_not_an_address_is_unknown(self) -> None:
        assert client_address(scope("x" * 100)) is None
        assert client_address(scope(None)) is None

    def test_ipv4_mapped_and_scoped_ipv6_are_normalised(self) -> None:
        assert str(client_address(scope("::ffff:192.0.2.9"))) == "192.0.2.9"
        assert str(client_address(scope("fe80::1%eth0"))) == "fe80::1"


class TestClientInfo:
    def test_keeps_a_bounded_user_agent(self) -> None:
        info = client_info(scope("192.0.2.1", user_agent="a" * 1000))
        assert info.ip == "192.0.2.1"
        assert info.user_agent == "a" * 255


class TestAddressBucket:
    def test_ipv4_counts_per_address(self) -> None:
        assert address_bucket("192.0.2.1") == "192.0.2.1"

    def test_ipv6_counts_per_64(self) -> None:
        assert address_bucket("2001:db8:1:2::1") == address_bucket("2001:db8:1:2:ffff::9")
        assert address_bucket("2001:db8:1:2::1") == "2001:db8:1:2::/64"
        assert address_bucket("2001:db8:1:3::1") != address_bucket("2001:db8:1:2::1")

    def test_unknown_addresses_share_one_bucket(self) -> None:
        assert address_bucket(None) == address_bucket("garbage") == "unknown"


class TestSetting:
    def test_trusted_proxies_parse_from_a_list(self) -> None:
        settings = ServiceSettings(
            _env_file=None, environment="test", trusted_proxies="10.0.0.0/8, 192.0.2.7"
        )
        assert [str(n) for n in settings.trusted_proxy_networks] == ["10.0.0.0/8", "192.0.2.7/32"]

    def test_a_typo_fails_at_start_up(self) -> None:
        with pytest.raises(ValueError, match="TRUSTED_PROXIES"):
            ServiceSettings(_env_file=None, environment="test", trusted_proxies="10.0.0.0/33")
