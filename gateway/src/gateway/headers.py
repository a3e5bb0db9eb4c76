"""The headers of a forwarded request and of its answer.

Hop-by-hop headers (RFC 9110 §7.6.1: `Connection` and the headers it names, `Keep-Alive`,
`Proxy-*`, `TE`, `Trailer`, `Transfer-Encoding`, `Upgrade`) describe one connection and are
dropped both ways. The upstream learns who the client is from `X-Forwarded-For`, `-Proto` and
`-Host` (RFC 7239's `Forwarded` passes only from trusted proxies), set by the gateway: values a
client sent are kept only when the TCP peer is one of TRUSTED_PROXIES (`common.client`), else
replaced by what the gateway saw. `X-Request-ID` is the id the shared middleware kept or made.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from starlette.types import Scope

from common.client import IPNetwork, is_trusted, parse_address

RawHeaders = Iterable[tuple[bytes, bytes]]

HOP_BY_HOP = frozenset(
    {
        b"connection",
        b"keep-alive",
        b"proxy-authenticate",
        b"proxy-authorization",
        b"proxy-connection",
        b"te",
        b"trailer",
        b"transfer-encoding",
        b"upgrade",
    }
)
_FORWARDED_FOR = b"x-forwarded-for"
_FORWARDED_PROTO = b"x-forwarded-proto"
_FORWARDED_HOST = b"x-forwarded-host"
_FORWARDED = b"forwarded"
_HOST = b"host"
_REQUEST_ID = b"x-request-id"
_CONTENT_LENGTH = b"content-length"
_TRANSFER_ENCODING = b"transfer-encoding"
# Set by the gateway itself, whatever the client sent.
_REPLACED = frozenset({_HOST, _REQUEST_ID, _FORWARDED_FOR, _FORWARDED_PROTO, _FORWARDED_HOST})
# `Expect: 100-continue` was the gateway server's to answer (it did, when the body was first
# read); passed on, aiohttp would hold the body until the upstream says 100 too.
_EXPECT = b"expect"
# The gateway's server adds its own; the upstream's would make them twice.
_SERVER_OWN = frozenset({b"date", b"server"})


def _connection_named(headers: Sequence[tuple[bytes, bytes]]) -> frozenset[bytes]:
    """The headers a `Connection` header names (hop-by-hop too), lower case."""
    named: set[bytes] = set()
    for name, value in headers:
        if name.lower() == b"connection":
            named.update(token.strip().lower() for token in value.split(b","))
    return frozenset(named)


@dataclass(frozen=True, slots=True)
class OutgoingRequest:
    """What the upstream gets besides the method and path: headers as text (name, value) and
    whether a body follows."""

    headers: list[tuple[str, str]]
    has_body: bool


def _has_body(raw: Sequence[tuple[bytes, bytes]]) -> bool:
    """A body follows the head: a length that is not zero, or a transfer coding (chunked)."""
    for name, value in raw:
        if name == _TRANSFER_ENCODING or (
            name == _CONTENT_LENGTH and value.strip() not in (b"", b"0")
        ):
            return True
    return False


def request_headers(
    scope: Scope, request_id: str, trusted_proxies: Sequence[IPNetwork]
) -> OutgoingRequest:
    """The headers to send upstream for the request of `scope` (see the module's docstring)."""
    raw: list[tuple[bytes, bytes]] = scope["headers"]
    dropped = HOP_BY_HOP | {_EXPECT} | _connection_named(raw)
    peer = scope.get("client")
    peer_address = parse_address(peer[0] if peer else None)
    trusted = peer_address is not None and is_trusted(peer_address, trusted_proxies)

    headers: list[tuple[str, str]] = []
    replaced: dict[bytes, list[str]] = {name: [] for name in _REPLACED}
    for name, value in raw:
        if name in dropped or (name == _FORWARDED and not trusted):
            continue
        if name in _REPLACED:
            replaced[name].append(value.decode("latin-1"))
        else:
            headers.append((name.decode("latin-1"), value.decode("latin-1")))

    # From a trusted proxy, what it says about its client; from anyone else, nothing.
    chain = replaced[_FORWARDED_FOR] if trusted else []
    proto = replaced[_FORWARDED_PROTO][:1] if trusted else []
    host = (replaced[_FORWARDED_HOST] if trusted else [])[:1] or replaced[_HOST][:1]
    if peer_address is not None:
        chain.append(str(peer_address))
    if chain:
        headers.append(("x-forwarded-for", ", ".join(chain)))
    headers.append(("x-forwarded-proto", proto[0] if proto else scope.get("scheme", "http")))
    if host:
        headers.append(("x-forwarded-host", host[0]))
    headers.append(("x-request-id", request_id))
    return OutgoingRequest(headers=headers, has_body=_has_body(raw))


def response_headers(raw: Sequence[tuple[bytes, bytes]]) -> list[tuple[bytes, bytes]]:
    """The upstream's answer's headers for the client: names lower case (as ASGI wants them),
    without hop-by-hop headers, `Date` and `Server` (the gateway's server sends its own)."""
    dropped = HOP_BY_HOP | _SERVER_OWN | _connection_named(raw)
    headers: list[tuple[bytes, bytes]] = []
    for name, value in raw:
        lower = name.lower()
        if lower not in dropped:
            headers.append((lower, value))
    return headers
