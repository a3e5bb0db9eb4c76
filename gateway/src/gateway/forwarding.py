"""Forwarding a request to the upstream the routing table names, streaming both ways.

The gateway is a plain ASGI app behind FastAPI's router (`forward`, the router's default: what
none of the gateway's own routes serves). The request body goes from ASGI `receive` to aiohttp
as it arrives, the answer's body from aiohttp to ASGI `send` as it arrives, a piece at a time:
no Starlette Request or Response is built for it, and memory holds a few pieces per request,
whatever the size of the body (the issue measured a StreamingResponse per answer at a quarter
of the throughput of writing to `send()` directly).

Until the answer starts, a failure is the shared JSON error: 502 `bad_gateway` when the upstream
refuses or breaks the connection, 504 `gateway_timeout` when it does not connect or answer in
its timeouts. Once the answer has started, its status is out: a failure then ends the response
unfinished (the server closes the connection, so the client sees a truncated body, not a
complete wrong one). A client that goes away mid-answer stops the copy, and the upstream
connection is closed rather than reused.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Mapping, Sequence
from urllib.parse import quote_from_bytes

import aiohttp
from starlette.types import Message, Receive, Scope, Send
from yarl import URL

from common.client import IPNetwork
from common.context import request_id_from_scope
from common.health import HealthCheck
from common.middleware import request_id_for
from common.runtime import service_runtime
from gateway.exceptions import BadGateway, GatewayTimeout, NoRoute
from gateway.headers import request_headers, response_headers
from gateway.routing import Route, RoutingTable

logger = logging.getLogger(__name__)

# Bytes left as they are in the path and query sent upstream: what is valid there (RFC 3986),
# `%` included, so the client's own percent-encoding goes through unchanged.
_SAFE_PATH = "/%:@!$&'()*+,;=-._~"
_SAFE_QUERY = _SAFE_PATH + "?"


def upstream_url(base: str, scope: Scope) -> URL:
    """`base` followed by the request's path and query string, as the client sent them."""
    raw_path: bytes = scope.get("raw_path") or scope["path"].encode()
    text = base + quote_from_bytes(raw_path, safe=_SAFE_PATH)
    query: bytes = scope.get("query_string", b"")
    if query:
        text += "?" + quote_from_bytes(query, safe=_SAFE_QUERY)
    return URL(text, encoded=True)


def _has_dot_segment(path: str) -> bool:
    """`.` or `..` as a segment: clients remove them (RFC 3986 §5.2.4); a request that keeps
    them is probing how the gateway and a service would read the path differently."""
    return any(segment in (".", "..") for segment in path.split("/"))


class ClientDisconnected(Exception):
    """The client went away while its request body was being read."""


class _RequestBody:
    """The request body as aiohttp reads it: chunks from ASGI `receive`, as they come. What
    went wrong reading it is kept (aiohttp reports it only as a broken connection)."""

    def __init__(self, receive: Receive) -> None:
        self._receive = receive
        self.done = False
        self.error: Exception | None = None

    async def chunks(self) -> AsyncIterator[bytes]:
        try:
            while True:
                message = await self._receive()
                if message["type"] == "http.disconnect":
                    raise ClientDisconnected
                chunk: bytes = message.get("body", b"")
                if chunk:
                    yield chunk
                if not message.get("more_body", False):
                    self.done = True
                    return
        except Exception as exc:  # a 413 of the body limit, a disconnect: told by `failed`
            self.error = exc
            raise


async def _until_disconnected(receive: Receive) -> None:
    while (await receive())["type"] != "http.disconnect":
        pass


async def _copy_body(content: aiohttp.StreamReader, send: Send) -> None:
    """The rest of the answer's body, each piece sent as soon as it arrived; the last one says
    so (`more_body` false)."""
    while True:
        chunk = await content.readany()
        last = content.is_eof()
        if chunk or last:
            await send({"type": "http.response.body", "body": chunk, "more_body": not last})
        if last:
            return


async def _copy_unless_disconnected(
    content: aiohttp.StreamReader, send: Send, receive: Receive
) -> bool:
    """`_copy_body`, stopped when the client disconnects (uvicorn's `send` then returns without
    a word, and the copy would go on to the end of the upstream's body). True if copied."""
    copying = asyncio.ensure_future(_copy_body(content, send))
    watching = asyncio.ensure_future(_until_disconnected(receive))
    try:
        await asyncio.wait((copying, watching), return_when=asyncio.FIRST_COMPLETED)
    finally:
        for task in (copying, watching):
            task.cancel()
        await asyncio.gather(copying, watching, return_exceptions=True)
    if copying.cancelled():
        return False
    copying.result()  # the upstream's failure, if it failed
    return True


class Forwarder:
    """Sends requests to the upstreams of the routing table over one aiohttp session (one pool
    of keep-alive connections) and relays their answers. The app's runtime: it carries the
    `readiness_checks` of the upstreams, which `/health/ready` asks (`ReportsReadiness`)."""

    def __init__(
        self,
        session: aiohttp.ClientSession,
        table: RoutingTable,
        *,
        trusted_proxies: Sequence[IPNetwork] = (),
        readiness_checks: Mapping[str, HealthCheck] | None = None,
    ) -> None:
        self.session = session
        self.table = table
        self.trusted_proxies = tuple(trusted_proxies)
        self.readiness_checks: Mapping[str, HealthCheck] = readiness_checks or {}

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        path: str = scope["path"]
        route = self.table.match(path)
        if route is None or _has_dot_segment(path):
            raise NoRoute
        request_id = request_id_from_scope(scope) or request_id_for(None)
        outgoing = request_headers(scope, request_id, self.trusted_proxies)
        body = _RequestBody(receive) if outgoing.has_body else None
        response = await self._send(route, scope, outgoing.headers, body)
        if response is None:
            return  # the client went away before the upstream answered
        watch = receive if body is None or body.done else None
        await _relay(route, response, send, watch)

    async def _send(
        self,
        route: Route,
        scope: Scope,
        headers: list[tuple[str, str]],
        body: _RequestBody | None,
    ) -> aiohttp.ClientResponse | None:
        try:
            return await self.session.request(
                scope["method"],
                upstream_url(route.upstream.url, scope),
                headers=headers,
                data=body.chunks() if body is not None else None,
                allow_redirects=False,
                timeout=route.timeout,
            )
        except (TimeoutError, aiohttp.ClientError) as exc:
            if body is not None and body.error is not None:
                if isinstance(body.error, ClientDisconnected):
                    return None
                raise body.error from None
            timed_out = isinstance(exc, TimeoutError)
            logger.warning(
                "upstream %s %s (%s): %s %s",
                route.name,
                "timed out" if timed_out else "failed",
                type(exc).__name__,
                scope["method"],
                scope["path"],
            )
            raise (GatewayTimeout if timed_out else BadGateway)() from None


async def _relay(
    route: Route, response: aiohttp.ClientResponse, send: Send, receive: Receive | None
) -> None:
    """The upstream's answer to the client. `receive`: where to watch for the client going
    away while the body is copied (None while the request body may still be being read)."""
    complete = False
    try:
        start: Message = {
            "type": "http.response.start",
            "status": response.status,
            "headers": response_headers(response.raw_headers),
        }
        await send(start)
        content = response.content
        chunk = await content.readany()
        if content.is_eof():  # the whole body came with the head: one message
            await send({"type": "http.response.body", "body": chunk, "more_body": False})
            complete = True
            return
        await send({"type": "http.response.body", "body": chunk, "more_body": True})
        if receive is None:
            await _copy_body(content, send)
            complete = True
        else:
            complete = await _copy_unless_disconnected(content, send, receive)
    except (TimeoutError, aiohttp.ClientError) as exc:
        # The status is out: ending the response unfinished is all that is left to say.
        logger.warning(
            "upstream %s broke off its answer: %s",
            route.name,
            type(exc).__name__,
        )
    finally:
        if complete:
            response.release()  # read to the end: the connection goes back to the pool
        else:
            response.close()  # unread bytes may follow: never reuse the connection


async def forward(scope: Scope, receive: Receive, send: Send) -> None:
    """The router's default app: every request none of the gateway's own routes serves."""
    if scope["type"] != "http":
        # WebSockets are not forwarded: the handshake is refused (403).
        await send({"type": "websocket.close", "code": 1000})
        return
    forwarder = service_runtime(scope["app"], Forwarder)
    await forwarder(scope, receive, send)
