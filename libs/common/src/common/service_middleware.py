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
8. GZip (Starlette's responders), only for answers it could change;
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


def _stamped(
    raw: list[tuple[bytes, bytes]], request_id: bytes, started: float
) -> list[tuple[bytes, bytes]]:
    """Layer 1 on the way out: the request id and the timing, replacing any the app set."""
    _set_header(raw, _REQUEST_ID_RAW, request_id)
    timing = f"app;dur={(time.perf_counter() - started) * 1000:.1f}".encode()
    _set_header(raw, _SERVER_TIMING, timing)
    return raw


def _declared_length(raw: list[tuple[bytes, bytes]]) -> int | None:
    for key, value in raw:
        if key == _CONTENT_LENGTH:
            return int(value) if value.isdigit() else None
    return None


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
    ) -> None:
        self.app = app
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
        self._added = {
            csp: tuple(vary + with_security_headers([], csp=csp, hsts=hsts)) for csp in csps
        }
        self._added_names = frozenset(name for name, _ in self._added[csps[0]])

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self._not_http(scope, receive, send)
            return
        incoming = _Incoming(scope["headers"], self.max_header_field_size, self.max_headers_size)
        request_id = request_id_for(incoming.request_id)
        scope.setdefault("state", {})["request_id"] = request_id
        token = request_id_var.set(request_id)
        request = enter_request(scope, self.trusted_proxies)
        started = time.perf_counter()
        status = 500
        csp = content_security_policy(scope["path"], self.docs_paths)
        request_id_raw = request_id.encode("latin-1")
        cors = self.cors

        async def finish(message: Message) -> None:
            # Security headers, then the request id and timing (layers 2 and 1).
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                raw = with_security_headers(
                    list(message.get("headers", [])), csp=csp, hsts=self.hsts
                )
                message["headers"] = _stamped(raw, request_id_raw, started)
            await send(message)

        async def with_cors(message: Message) -> None:
            # Layer 5 on the way out (what CORSMiddleware adds to a simple response), then 2 and 1.
            nonlocal status
            if message["type"] != "http.response.start":
                await send(message)
            elif cors is not None and incoming.origin:
                await cors.send(message, send=finish, request_headers=Headers(scope=scope))
            elif self._adds_to_untouched(raw := list(message.get("headers", [])), csp):
                status = message["status"]
                message["headers"] = _stamped(raw, request_id_raw, started)
                await send(message)
            else:
                if cors is not None:
                    _add_vary_origin(raw)
                message["headers"] = raw
                await finish(message)

        try:
            if incoming.size_problem is not None:
                await headers_too_large(incoming.size_problem, request_id)(scope, receive, finish)
            elif self.hosts is not None and not self.hosts.allows(incoming.host):
                await invalid_host(request_id)(scope, receive, finish)
            elif (
                cors is not None
                and incoming.origin
                and incoming.preflight
                and scope["method"] == "OPTIONS"
            ):
                answer = cors.preflight_response(request_headers=Headers(scope=scope))
                await answer(scope, receive, finish)
            else:
                await self._measured(
                    scope,
                    receive,
                    with_cors,
                    incoming=incoming,
                    request_id=request_id,
                    started=started,
                )
        finally:
            if self.access_log:
                log_access(scope, status, started)
            request_id_var.reset(token)
            request_scope_var.reset(request)

    def _adds_to_untouched(self, raw: list[tuple[bytes, bytes]], csp: bytes) -> bool:
        """The usual answer sets none of the headers layers 5 and 2 add: they come down to
        appending the ones built at start-up (False, and `raw` unchanged, otherwise)."""
        if not self._added_names.isdisjoint(name for name, _ in raw):
            return False
        raw.extend(self._added[csp])
        return True

    async def _measured(
        self,
        scope: Scope,
        receive: Receive,
        send: Send,
        *,
        incoming: _Incoming,
        request_id: str,
        started: float,
    ) -> None:
        """Layers 6 to 9: metrics around the body limit, compression and the error guard."""
        if self.metrics is None or scope["path"] in self.metrics_exclude:
            await self._limited(scope, receive, send, incoming, request_id)
            return
        status = 500

        async def send_with_status(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await self._limited(scope, receive, send_with_status, incoming, request_id)
        finally:
            self.metrics.observe(
                scope["method"],
                self.labels.handler(scope),
                status,
                time.perf_counter() - started,
            )

    async def _limited(
        self, scope: Scope, receive: Receive, send: Send, incoming: _Incoming, request_id: str
    ) -> None:
        """Layers 7 to 9: the body limit, then the app with compression and the error guard."""
        declared = incoming.content_length
        if declared is not None and declared.isdigit() and int(declared) > self.max_body_size:
            await payload_too_large(self.max_body_size, request_id)(scope, receive, send)
            return
        compress = self._compressing(send, accepts_gzip=incoming.accepts_gzip)
        started = False

        async def send_from_app(message: Message) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
            await compress(message)

        limited = limited_receive(receive, self.max_body_size)
        try:
            await self.app(scope, limited, send_from_app)
        except Exception as exc:
            if started:
                raise  # half a response is out; only the server can end it
            response = await unexpected_error_handler(Request(scope), exc)
            await response(scope, limited, compress)

    def _compressing(self, send: Send, *, accepts_gzip: bool) -> Send:
        """`send` through GZip (layer 8). An answer that declares a body under the minimum
        size is held until its body: sent in one message, it goes out as GZip would leave it
        (unchanged), without a responder; anything else goes through Starlette's."""
        minimum = self.gzip.minimum_size
        held: Message | None = None
        responder: IdentityResponder | None = None
        passing = False

        async def send_compressed(message: Message) -> None:
            nonlocal held, responder, passing
            if passing:
                await send(message)
                return
            if responder is not None:
                await responder.send_with_compression(message)
                return
            if held is None and message["type"] == "http.response.start":
                length = _declared_length(message.get("headers", []))
                if length is not None and length < minimum:
                    held = message
                    return
            elif (
                held is not None
                and message["type"] == "http.response.body"
                and not message.get("more_body", False)
                and len(message.get("body", b"")) < minimum
            ):
                passing = True
                await send(held)
                await send(message)
                return
            responder = self._responder(send, accepts_gzip=accepts_gzip)
            if held is not None:
                await responder.send_with_compression(held)
            await responder.send_with_compression(message)

        return send_compressed

    def _responder(self, send: Send, *, accepts_gzip: bool) -> IdentityResponder:
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
