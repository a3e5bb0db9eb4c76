"""The middleware of every service in one pure-ASGI pass (decision 0014, `docs/decisions/`).

`create_service_app` used to stack nine layers, each its own ASGI app with its own frame, closure
and wrapped `send` per request; GZip and CORS also parsed the request headers again into
`Headers` objects. On a trivial route they cost half the throughput. `ServiceMiddleware` does the
same work in the same order, from the outside in:

1. request context: the request id, the logging context, `Server-Timing`, the access-log line;
2. security headers on every answer;
3. 431 for headers over MAX_HEADERS_SIZE / MAX_HEADER_FIELD_SIZE;
4. 400 for a Host that is not one of TRUSTED_HOSTS (WebSocket handshakes too);
5. CORS (Starlette's `CORSMiddleware` answers preflights and decorates answers to an `Origin`);
6. Prometheus metrics (`common.metrics`), except for `/metrics` itself;
7. 413 for a body over MAX_BODY_SIZE;
8. GZip (Starlette's responders), only for answers it could change (none with `compress`
   false: an app that relays answers others made, the gateway, passes them as they are);
9. the generic 500 for an exception no handler claimed, inside all of the above.

What the layers read from the request is found in one scan of its headers, and what they add to
the answer in one wrapped `send`. Work an answer does not need is skipped: a request without an
`Origin` gets only the `Vary: Origin` CORS would add, and an answer that declares a body under
GZip's minimum size and sends it in one message goes out as GZip would leave it (unchanged)
without a responder. Anything else goes through Starlette's own code, so the headers, bodies,
limits and error codes are those of the separate layers, which `common.middleware` still offers.
"""

from __future__ import annotations

import time
from collections.abc import Sequence

from fastapi import Request
from starlette.datastructures import Headers
from starlette.middleware.cors import CORSMiddleware
from starlette.middleware.gzip import GZipMiddleware, GZipResponder, IdentityResponder
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from common.client import IPNetwork
from common.context import (
    enter_request,
    request_id_from_scope,
    request_id_var,
    request_scope_var,
)
from common.error_handlers import unexpected_error_handler
from common.metrics import HttpMetrics, RouteLabels
from common.middleware import (
    REQUEST_ID_HEADER,
    HostAllowList,
    content_security_policy,
    headers_too_large,
    headers_too_large_problem,
    invalid_host,
    limited_receive,
    log_access,
    payload_too_large,
    request_id_for,
    with_security_headers,
)

CORS_METHODS = ("GET", "POST", "PUT", "PATCH", "DELETE", "OPTIONS")
# X-Requested-With: Swagger UI sends it with the password form it posts to auth's token
# endpoint, from the docs of another service (another origin).
CORS_ALLOW_HEADERS = ("Authorization", "Content-Type", REQUEST_ID_HEADER, "X-Requested-With")
CORS_EXPOSE_HEADERS = (REQUEST_ID_HEADER, "Retry-After")
CORS_MAX_AGE = 600
GZIP_MINIMUM_SIZE = 1024

_REQUEST_ID = b"x-request-id"
_HOST = b"host"
_CONTENT_LENGTH = b"content-length"
_ORIGIN = b"origin"
_ACCEPT_ENCODING = b"accept-encoding"
_PREFLIGHT = b"access-control-request-method"
_VARY = b"vary"
_REQUEST_ID_RAW = REQUEST_ID_HEADER.lower().encode()
_SERVER_TIMING = b"server-timing"


class _Incoming:
    """What the one scan of the request headers found: the first value of each header a layer
    reads, and the size problem, if any."""

    __slots__ = (
        "accepts_gzip",
        "content_length",
        "host",
        "origin",
        "preflight",
        "request_id",
        "size_problem",
    )

    def __init__(self, headers: list[tuple[bytes, bytes]], max_field: int, max_total: int) -> None:
        request_id = host = content_length = origin = encoding = None
        preflight = False
        total = 0
        too_large_field = False
        for name, value in headers:
            size = len(name) + len(value)
            total += size
            if size > max_field:
                too_large_field = True
            if name == _REQUEST_ID:
                request_id = value if request_id is None else request_id
            elif name == _HOST:
                host = value if host is None else host
            elif name == _CONTENT_LENGTH:
                content_length = value if content_length is None else content_length
            elif name == _ORIGIN:
                origin = value if origin is None else origin
            elif name == _ACCEPT_ENCODING:
                encoding = value if encoding is None else encoding
            elif name == _PREFLIGHT:
                preflight = True
        self.request_id = request_id.decode("latin-1") if request_id is not None else None
        self.host = host.decode("latin-1") if host is not None else None
        self.content_length = content_length
        self.origin = origin is not None
        self.preflight = preflight
        self.accepts_gzip = encoding is not None and b"gzip" in encoding
        self.size_problem = (
            headers_too_large_problem(field_bytes=max_field)
            if too_large_field
            else headers_too_large_problem(total_bytes=max_total)
            if total > max_total
            else None
        )


def _add_vary_origin(raw: list[tuple[bytes, bytes]]) -> None:
    """What CORSMiddleware does to an answer to a request without `Origin`: one Vary header,
    the values of those already there followed by `Origin`, where the first of them was."""
    found = [index for index, (key, _) in enumerate(raw) if key == _VARY]
    if not found:
        raw.append((_VARY, b"Origin"))
        return
    joined = b", ".join([*(raw[index][1] for index in found), b"Origin"])
    for index in reversed(found[1:]):
        del raw[index]
    raw[found[0]] = (_VARY, joined)


def _set_header(raw: list[tuple[bytes, bytes]], name: bytes, value: bytes) -> None:
    """`MutableHeaders.__setitem__` on raw headers whose names are lower-case."""
    found = [index for index, (key, _) in enumerate(raw) if key == name]
    if not found:
        raw.append((name, value))
        return
    for index in reversed(found[1:]):
        del raw[index]
    raw[found[0]] = (name, value)


def _declared_length(raw: list[tuple[bytes, bytes]]) -> int | None:
    for key, value in raw:
        if key == _CONTENT_LENGTH:
            return int(value) if value.isdigit() else None
    return None


class _Exchange:
    """One request's way through the layers: what they read from it, and a `send` per layer
    for what they do to the answer (one object instead of a closure per layer and request)."""

    __slots__ = (
        "held",
        "incoming",
        "layers",
        "passing",
        "request_id",
        "responder",
        "responding",
        "scope",
        "send",
        "started",
        "status",
    )

    def __init__(
        self,
        layers: ServiceMiddleware,
        scope: Scope,
        send: Send,
        incoming: _Incoming,
        request_id: str,
    ) -> None:
        self.layers = layers
        self.scope = scope
        self.send = send
        self.incoming = incoming
        self.request_id = request_id
        self.started = time.perf_counter()
        self.status = 500  # what the access log and the metrics say if no answer started
        self.responding = False
        self.held: Message | None = None
        self.responder: IdentityResponder | None = None
        self.passing = False

    def _stamps(self) -> list[tuple[bytes, bytes]]:
        """Layer 1's headers: the request id and the time the app took so far."""
        milliseconds = (time.perf_counter() - self.started) * 1000
        return [
            (_REQUEST_ID_RAW, self.request_id.encode("latin-1")),
            (_SERVER_TIMING, b"app;dur=%.1f" % milliseconds),
        ]

    async def finish(self, message: Message) -> None:
        """Layers 2 and 1 on the way out: security headers, then the request id and timing,
        replacing any the app set."""
        if message["type"] == "http.response.start":
            self.status = message["status"]
            raw = with_security_headers(
                list(message.get("headers", [])),
                csp=self.layers.csp_for(self.scope),
                hsts=self.layers.hsts,
            )
            for name, value in self._stamps():
                _set_header(raw, name, value)
            message["headers"] = raw
        await self.send(message)

    async def decorated(self, message: Message) -> None:
        """Layer 5 on the way out (what CORSMiddleware adds to a simple response), then 2
        and 1."""
        if message["type"] != "http.response.start" or self._stamped_as_usual(message):
            await self.send(message)
        else:
            await self._decorated_start(message)

    def _stamped_as_usual(self, start: Message) -> bool:
        """The usual answer sets none of the headers layers 5, 2 and 1 add, and its request
        has no `Origin` for CORS to answer: they come down to appending the headers built at
        start-up, and layer 1's (False, and `start` unchanged, otherwise)."""
        layers = self.layers
        if layers.cors is not None and self.incoming.origin:
            return False
        raw = list(start.get("headers", []))
        if not layers.untouched_by(raw):
            return False
        self.status = start["status"]
        raw += layers.added[layers.csp_for(self.scope)]
        raw += self._stamps()
        start["headers"] = raw
        return True

    async def _decorated_start(self, start: Message) -> None:
        """`decorated` for the answer `_stamped_as_usual` left alone, through Starlette's
        CORS code where the request has an `Origin`."""
        layers = self.layers
        if layers.cors is not None and self.incoming.origin:
            headers = Headers(scope=self.scope)
            await layers.cors.send(start, send=self.finish, request_headers=headers)
            return
        raw = list(start.get("headers", []))
        if layers.cors is not None:
            _add_vary_origin(raw)
        start["headers"] = raw
        await self.finish(start)

    async def uncompressed(self, message: Message) -> None:
        """The app's `send` without layer 8: `decorated`, noting that the answer started."""
        if message["type"] == "http.response.start":
            self.responding = True
        await self.decorated(message)

    async def compressed(self, message: Message) -> None:
        """The app's `send`: through GZip (layer 8), then `decorated`. An answer that declares
        a body under the minimum size is held until its body: sent in one message, it goes out
        as GZip would leave it (unchanged), without a responder; anything else goes through
        Starlette's."""
        if self.passing:
            await self.decorated(message)
            return
        if self.responder is not None:
            await self.responder.send_with_compression(message)
            return
        minimum = self.layers.gzip.minimum_size
        if message["type"] == "http.response.start":
            self.responding = True
            if self.held is None:
                length = _declared_length(message.get("headers", []))
                if length is not None and length < minimum:
                    self.held = message
                    return
        elif (
            self.held is not None
            and message["type"] == "http.response.body"
            and not message.get("more_body", False)
            and len(message.get("body", b"")) < minimum
        ):
            self.passing = True
            if self._stamped_as_usual(self.held):  # `decorated`, one call shorter
                await self.send(self.held)
            else:
                await self._decorated_start(self.held)
            await self.send(message)  # a body: `decorated` would pass it on unchanged
            return
        self.responder = responder = self.layers.responder(
            self.decorated, accepts_gzip=self.incoming.accepts_gzip
        )
        if self.held is not None:
            await responder.send_with_compression(self.held)
        await responder.send_with_compression(message)


class ServiceMiddleware:
    """Every layer of the shared middleware, in one ASGI app (see the module's docstring).

    `trusted_hosts` containing `*`, empty `cors_origins` and `metrics=None` turn those layers
    off, as the separate layers were not installed in those cases."""

    def __init__(
        self,
        app: ASGIApp,
        *,
        max_headers_size: int,
        max_header_field_size: int,
        max_body_size: int,
        trusted_hosts: Sequence[str] = ("*",),
        cors_origins: Sequence[str] = (),
        metrics: HttpMetrics | None = None,
        metrics_exclude: Sequence[str] = ("/metrics",),
        hsts: bool = False,
        docs_paths: Sequence[str] = (),
        access_log: bool = True,
        trusted_proxies: Sequence[IPNetwork] = (),
        compress: bool = True,
    ) -> None:
        self.app = app
        self.compress = compress
        self.max_headers_size = max_headers_size
        self.max_header_field_size = max_header_field_size
        self.max_body_size = max_body_size
        self.hosts = None if "*" in trusted_hosts else HostAllowList(trusted_hosts)
        self.cors = (
            CORSMiddleware(
                app,
                allow_origins=list(cors_origins),
                allow_methods=list(CORS_METHODS),
                allow_headers=list(CORS_ALLOW_HEADERS),
                expose_headers=list(CORS_EXPOSE_HEADERS),
                max_age=CORS_MAX_AGE,
            )
            if cors_origins
            else None
        )
        self.metrics = metrics
        self.metrics_exclude = frozenset(metrics_exclude)
        self.labels = RouteLabels()
        self.gzip = GZipMiddleware(app, minimum_size=GZIP_MINIMUM_SIZE)
        self.hsts = hsts
        self.docs_paths = tuple(docs_paths)
        self.access_log = access_log
        self.trusted_proxies = tuple(trusted_proxies)
        # The headers layers 5 and 2 add to an answer that set none of them, built once per
        # Content-Security-Policy (layer 5's `Vary: Origin` only where CORS is on).
        vary = [(_VARY, b"Origin")] if self.cors is not None else []
        csps = (content_security_policy("/", ()), content_security_policy("/docs", ("/docs",)))
        self.added = {csp: vary + with_security_headers([], csp=csp, hsts=hsts) for csp in csps}
        # An answer with none of these headers gets the ones above and layer 1's appended.
        self._added_names = frozenset(
            [*(name for name, _ in self.added[csps[0]]), _REQUEST_ID_RAW, _SERVER_TIMING]
        )

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self._not_http(scope, receive, send)
            return
        incoming = _Incoming(scope["headers"], self.max_header_field_size, self.max_headers_size)
        request_id = request_id_for(incoming.request_id)
        scope.setdefault("state", {})["request_id"] = request_id
        token = request_id_var.set(request_id)
        request = enter_request(scope, self.trusted_proxies)
        exchange = _Exchange(self, scope, send, incoming, request_id)
        measured = False  # by layer 6: all but the answers of layers 3 to 5
        try:
            if incoming.size_problem is not None:
                refusal = headers_too_large(incoming.size_problem, request_id)
                await refusal(scope, receive, exchange.finish)
            elif self.hosts is not None and not self.hosts.allows(incoming.host):
                await invalid_host(request_id)(scope, receive, exchange.finish)
            elif (
                self.cors is not None
                and incoming.origin
                and incoming.preflight
                and scope["method"] == "OPTIONS"
            ):
                preflight = self.cors.preflight_response(request_headers=Headers(scope=scope))
                await preflight(scope, receive, exchange.finish)
            else:
                measured = self.metrics is not None and scope["path"] not in self.metrics_exclude
                await self._limited(scope, receive, exchange)
        finally:
            if measured and self.metrics is not None:
                handler = self.labels.handler(scope)
                duration = time.perf_counter() - exchange.started
                self.metrics.observe(scope["method"], handler, exchange.status, duration)
            if self.access_log:
                log_access(scope, exchange.status, exchange.started)
            request_id_var.reset(token)
            request_scope_var.reset(request)

    async def _limited(self, scope: Scope, receive: Receive, exchange: _Exchange) -> None:
        """Layers 7 to 9: the body limit, then the app with compression and the error guard."""
        declared = exchange.incoming.content_length
        if declared is not None and declared.isdigit() and int(declared) > self.max_body_size:
            refusal = payload_too_large(self.max_body_size, exchange.request_id)
            await refusal(scope, receive, exchange.decorated)
            return
        limited = limited_receive(receive, self.max_body_size)
        send = exchange.compressed if self.compress else exchange.uncompressed
        try:
            await self.app(scope, limited, send)
        except Exception as exc:
            if exchange.responding:
                raise  # half a response is out; only the server can end it
            response = await unexpected_error_handler(Request(scope), exc)
            await response(scope, limited, send)

    def csp_for(self, scope: Scope) -> bytes:
        return content_security_policy(scope["path"], self.docs_paths)

    def untouched_by(self, raw: list[tuple[bytes, bytes]]) -> bool:
        """The answer sets none of the headers layers 5, 2 and 1 add."""
        return self._added_names.isdisjoint([name for name, _ in raw])

    def responder(self, send: Send, *, accepts_gzip: bool) -> IdentityResponder:
        """The responder GZipMiddleware would have chosen for this request."""
        gzip = self.gzip
        responder: IdentityResponder
        if accepts_gzip:
            responder = GZipResponder(
                self.app,
                gzip.minimum_size,
                compresslevel=gzip.compresslevel,
                thread_minimum_size=gzip.thread_minimum_size,
                exclude_content_types=gzip.exclude_content_types,
            )
        else:
            responder = IdentityResponder(
                self.app, gzip.minimum_size, exclude_content_types=gzip.exclude_content_types
            )
        responder.send = send
        return responder

    async def _not_http(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Lifespan passes; a WebSocket handshake meets only the Host check (layer 4)."""
        if scope["type"] == "websocket" and self.hosts is not None:
            host = next((v.decode("latin-1") for k, v in scope["headers"] if k == _HOST), None)
            if not self.hosts.allows(host):
                await invalid_host(request_id_from_scope(scope))(scope, receive, send)
                return
        await self.app(scope, receive, send)


__all__ = ["ServiceMiddleware"]
