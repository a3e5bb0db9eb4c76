"""Who is on the other end of a request, as far as auditing and throttling need to know.

The client address is the TCP peer, unless the peer is one of TRUSTED_PROXIES: then the
`X-Forwarded-For` chain is walked from the right, past the trusted hops, to the first address a
trusted proxy saw (the client's as far as anyone trustworthy can tell). A hop that does not
parse as an IP address (with or without a port) makes the client unknown, so a client cannot put
text of its choosing in the audit trail or pick its own throttling bucket, and a misconfigured
proxy does not put every client in one bucket. Run uvicorn with `--no-proxy-headers`: this
module makes the decision uvicorn's `--forwarded-allow-ips` would otherwise make implicitly (it
trusts 127.0.0.1 by default).

Throttles count IPv6 clients per /64 (`address_bucket`): one host usually holds a whole /64,
so counting single addresses would let it rotate through 2^64 of them.
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache

from starlette.types import Scope

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network

UNKNOWN_BUCKET = "unknown"
IPV6_BUCKET_PREFIX = 64
MAX_USER_AGENT = 255
_FORWARDED_FOR = b"x-forwarded-for"
_PORT = re.compile(r":\d{1,5}")


@dataclass(frozen=True, slots=True)
class ClientInfo:
    """Where a request came from (no HTTP objects): a well-formed IP address or None, and the
    user agent cut to what the audit trail keeps."""

    ip: str | None = None
    user_agent: str | None = None

    @property
    def bucket(self) -> str:
        return address_bucket(self.ip)


def _without_port(text: str) -> str | None:
    """`192.0.2.1:5555` -> `192.0.2.1`, `[2001:db8::1]:443` and `[2001:db8::1]` ->
    `2001:db8::1`; anything else unchanged; None for a port that is not one."""
    if text.startswith("["):
        host, closing, rest = text[1:].partition("]")
        return host if closing and (not rest or _PORT.fullmatch(rest)) else None
    if text.count(":") == 1:
        host, _, port = text.partition(":")
        return host if port.isdigit() else None
    return text


def parse_address(text: str | None) -> IPAddress | None:
    """An IP address, also written with a port as proxies append it; None for anything else."""
    host = _without_port(text.strip()) if text else None
    try:
        address = ipaddress.ip_address(host or "")
    except ValueError:
        return None
    if isinstance(address, ipaddress.IPv6Address):
        if address.ipv4_mapped is not None:
            return address.ipv4_mapped
        if address.scope_id is not None:
            return ipaddress.IPv6Address(str(address).split("%", 1)[0])
    return address


@lru_cache(maxsize=16)
def parse_networks(entries: tuple[str, ...]) -> tuple[IPNetwork, ...]:
    """TRUSTED_PROXIES as networks (`10.0.0.0/8`, `::1`, `192.0.2.7`); raises ValueError on an
    entry that is neither, so a typo fails at start-up."""
    return tuple(ipaddress.ip_network(entry.strip(), strict=False) for entry in entries)


def is_trusted(address: IPAddress, networks: Sequence[IPNetwork]) -> bool:
    """`address` is in one of `networks` (TRUSTED_PROXIES)."""
    return any(address.version == n.version and address in n for n in networks)


def _forwarded_chain(scope: Scope) -> list[str]:
    hops: list[str] = []
    for name, value in scope.get("headers", ()):
        if name == _FORWARDED_FOR:
            hops.extend(part.strip() for part in value.decode("latin-1").split(","))
    return hops


def client_address(scope: Scope, trusted_proxies: Sequence[IPNetwork] = ()) -> IPAddress | None:
    peer = scope.get("client")
    address = parse_address(peer[0] if peer else None)
    if address is None or not trusted_proxies or not is_trusted(address, trusted_proxies):
        return address
    for hop in reversed(_forwarded_chain(scope)):
        forwarded = parse_address(hop)
        if forwarded is None:
            # A hop our own proxies wrote and we cannot read: the client is unknown, never the
            # proxy itself (every client would share its throttling bucket).
            return None
        address = forwarded
        if not is_trusted(forwarded, trusted_proxies):
            break
    return address


def client_info(scope: Scope, trusted_proxies: Sequence[IPNetwork] = ()) -> ClientInfo:
    address = client_address(scope, trusted_proxies)
    user_agent = None
    for name, value in scope.get("headers", ()):
        if name == b"user-agent":
            user_agent = value.decode("latin-1")[:MAX_USER_AGENT] or None
            break
    return ClientInfo(ip=str(address) if address is not None else None, user_agent=user_agent)


def address_bucket(ip: str | None) -> str:
    """The key a per-address throttle counts under: the address, its /64 for IPv6, and one
    shared bucket for requests whose address is unknown (they must not escape throttling)."""
    address = parse_address(ip)
    if address is None:
        return UNKNOWN_BUCKET
    if isinstance(address, ipaddress.IPv6Address):
        network = ipaddress.IPv6Network((address, IPV6_BUCKET_PREFIX), strict=False)
        return str(network)
    return str(address)
