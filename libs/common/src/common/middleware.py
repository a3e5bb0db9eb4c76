"""Pure ASGI middleware (no BaseHTTPMiddleware: it costs a task and a copy per request).

`RequestContextMiddleware` gives every request an id (the caller's `X-Request-ID` when it is
well-formed, a new one otherwise), puts it in the logging context and the response, adds a
`Server-Timing` header and writes one access-log line. `SecurityHeadersMiddleware` adds the
headers a JSON API should always send. `TrustedHostMiddleware` refuses unknown Host headers with
the JSON error body every other error uses. `HeaderSizeLimitMiddleware` and
`BodySizeLimitMiddleware` refuse oversized requests (431, 413) with the same body.
"""

from __future__ import annotations

import logging
import os
import re
import time
from collections.abc import Sequence

from fastapi.responses import JSONResponse
from starlette.datastructures import MutableHeaders
from starlette.exceptions import HTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from common.client import IPNetwork
from common.context import (
    enter_request,
    request_id_from_scope,
    request_id_var,
    request_scope_var,
)
from common.error_handlers import error_response

REQUEST_ID_HEADER = "X-Request-ID"
_REQUEST_ID_HEADER_RAW = b"x-request-id"
_VALID_REQUEST_ID = re.compile(r"^[A-Za-z0-9._:-]{1,128}$")

access_logger = logging.getLogger("access")


def _header(scope: Scope, name: bytes) -> str | None:
    for key, value in scope["headers"]:
        if key == name:
            return str(value.decode("latin-1"))
    return None


def request_id_for(incoming: str | None) -> str:
    """The caller's id when it is safe to repeat in logs and headers, a new one otherwise: 32
    random hex digits, the shape of `uuid4().hex` at a tenth of its cost on every request."""
    return incoming if incoming and _VALID_REQUEST_ID.match(incoming) else os.urandom(16).hex()


def log_access(scope: Scope, status_code: int, started: float) -> None:
    """The access-log line of a request that began at `started` (perf_counter)."""
    access_logger.info(
        '%s "%s %s" %d %.1fms',
        scope["client"][0] if scope.get("client") else "-",
        scope["method"],
        scope["path"],
        status_code,
        (time.perf_counter() - started) * 1000,
    )


class RequestContextMiddleware:
    def __init__(
        self,
        app: ASGIApp,
        *,
        access_log: bool = True,
        trusted_proxies: Sequence[IPNetwork] = (),
    ) -> None:
        self.app = app
        self.access_log = access_log
        self.trusted_proxies = tuple(trusted_proxies)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        request_id = request_id_for(_header(scope, _REQUEST_ID_HEADER_RAW))
        scope.setdefault("state", {})["request_id"] = request_id
        token = request_id_var.set(request_id)
        request = enter_request(scope, self.trusted_proxies)
        started = time.perf_counter()
        status_code = 500

        async def send_with_context(message: Message) -> None:
            nonlocal status_code
            if message["type"] == "http.response.start":
                status_code = message["status"]
                headers = MutableHeaders(scope=message)
                headers[REQUEST_ID_HEADER] = request_id
                elapsed_ms = (time.perf_counter() - started) * 1000
                headers["Server-Timing"] = f"app;dur={elapsed_ms:.1f}"
            await send(message)

        try:
            await self.app(scope, receive, send_with_context)
        finally:
            if self.access_log:
                log_access(scope, status_code, started)
            request_id_var.reset(token)
            request_scope_var.reset(request)


_API_HEADERS: list[tuple[bytes, bytes]] = [
    (b"x-content-type-options", b"nosniff"),
    (b"x-frame-options", b"DENY"),
    (b"referrer-policy", b"no-referrer"),
    (b"cross-origin-opener-policy", b"same-origin"),
    (b"cross-origin-resource-policy", b"same-origin"),
]
_STRICT_CSP = b"default-src 'none'; frame-ancestors 'none'"


def docs_content_security_policy(
    *, script_hashes: Sequence[str] = (), connect: Sequence[str] = (), redoc: bool = False
) -> str:
    """The policy of the docs (`common.docs`): Swagger UI and ReDoc load from the service itself
    only; an inline script runs only by its hash (`script_hashes`, base64 SHA-256); the page
    calls the service and the origins in `connect` (auth's token endpoint) and nothing else.
    `redoc`: ReDoc's styled-components writes `<style>` elements at run time (inline styles)
    and its search runs in a `blob:` worker; Swagger UI needs neither."""
    scripts = " ".join(["'self'", *(f"'sha256-{digest}'" for digest in script_hashes)])
    origins = " ".join(["'self'", *connect])
    styles, workers = ("'self' 'unsafe-inline'", "; worker-src blob:") if redoc else ("'self'", "")
    return (
        f"default-src 'none'; script-src {scripts}; style-src {styles}; img-src 'self' data:; "
        f"connect-src {origins}{workers}; frame-ancestors 'none'"
    )


# What the docs pages do not set themselves: their assets, answers under their paths.
_DOCS_CSP = docs_content_security_policy().encode()
_HSTS = b"max-age=63072000; includeSubDomains"


def with_security_headers(
    raw: list[tuple[bytes, bytes]], *, csp: bytes, hsts: bool
) -> list[tuple[bytes, bytes]]:
    """`raw` (a response's headers) plus the headers a JSON API should always send, where the
    response did not set its own."""
    present = {key.lower() for key, _ in raw}
    raw.extend(h for h in _API_HEADERS if h[0] not in present)
    if b"content-security-policy" not in present:
        raw.append((b"content-security-policy", csp))
    # Responses carry tokens and personal data: no cache keeps them unless the route opted in
    # with its own Cache-Control (the JWKS does).
    if b"cache-control" not in present:
        raw.append((b"cache-control", b"no-store"))
    if hsts:
        raw.append((b"strict-transport-security", _HSTS))
    return raw


def content_security_policy(path: str, docs_paths: tuple[str, ...]) -> bytes:
    return _DOCS_CSP if docs_paths and path.startswith(docs_paths) else _STRICT_CSP


class SecurityHeadersMiddleware:
    def __init__(self, app: ASGIApp, *, hsts: bool = False, docs_paths: Sequence[str] = ()) -> None:
        self.app = app
        self.hsts = hsts
        self.docs_paths = tuple(docs_paths)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        csp = content_security_policy(scope["path"], self.docs_paths)

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                raw = list(message.get("headers", []))
                message["headers"] = with_security_headers(raw, csp=csp, hsts=self.hsts)
            await send(message)

        await self.app(scope, receive, send_with_headers)


class HostAllowList:
    """The hosts a service answers for; `*.example.com` matches sub-domains."""

    def __init__(self, allowed_hosts: Sequence[str]) -> None:
        self.exact = {h for h in allowed_hosts if not h.startswith("*.")}
        self.suffixes = tuple(h[1:] for h in allowed_hosts if h.startswith("*."))

    def allows(self, host_header: str | None) -> bool:
        """Whether the Host header (with or without its port) names an allowed host."""
        host = (host_header or "").rsplit(":", 1)[0].strip("[]")
        return host in self.exact or (bool(self.suffixes) and host.endswith(self.suffixes))


def invalid_host(request_id: str | None) -> JSONResponse:
    return error_response(400, "invalid_host", "The Host header is not allowed.", request_id)


class TrustedHostMiddleware:
    """Refuses requests whose Host is not listed; `*.example.com` matches sub-domains."""

    def __init__(self, app: ASGIApp, *, allowed_hosts: Sequence[str]) -> None:
        self.app = app
        self.hosts = HostAllowList(allowed_hosts)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] not in ("http", "websocket") or self.hosts.allows(_header(scope, b"host")):
            await self.app(scope, receive, send)
            return
        await invalid_host(request_id_from_scope(scope))(scope, receive, send)


class HeaderSizeLimitMiddleware:
    """Refuses requests whose headers are too large with a JSON 431: any one header (name and
    value) over `max_field_bytes`, or all of them together over `max_total_bytes`.

    Uvicorn with httptools accepts megabytes of headers (only its h11 parser stops at 16 KiB);
    every layer after it then copies, decodes and searches them, so an oversized header is
    refused here, before anything reads it."""

    def __init__(self, app: ASGIApp, *, max_total_bytes: int, max_field_bytes: int) -> None:
        self.app = app
        self.max_total_bytes = max_total_bytes
        self.max_field_bytes = max_field_bytes

    def _problem(self, scope: Scope) -> str | None:
        total = 0
        for name, value in scope["headers"]:
            size = len(name) + len(value)
            if size > self.max_field_bytes:
                return headers_too_large_problem(field_bytes=self.max_field_bytes)
            total += size
        if total > self.max_total_bytes:
            return headers_too_large_problem(total_bytes=self.max_total_bytes)
        return None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        problem = self._problem(scope) if scope["type"] == "http" else None
        if problem is None:
            await self.app(scope, receive, send)
            return
        await headers_too_large(problem, request_id_from_scope(scope))(scope, receive, send)


def headers_too_large_problem(*, field_bytes: int = 0, total_bytes: int = 0) -> str:
    """The message of a 431: one header over `field_bytes`, or all over `total_bytes`."""
    if field_bytes:
        return f"A request header is larger than {field_bytes} bytes."
    return f"The request headers are larger than {total_bytes} bytes."


def headers_too_large(problem: str, request_id: str | None) -> JSONResponse:
    return error_response(431, "headers_too_large", problem, request_id)


class BodySizeLimitMiddleware:
    """Refuses request bodies over `max_bytes` with a JSON 413: at once when Content-Length says
    so, and while reading when a chunked body grows past the limit (raised as an HTTPException,
    which the error handler turns into the same JSON body)."""

    def __init__(self, app: ASGIApp, *, max_bytes: int) -> None:
        self.app = app
        self.max_bytes = max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        declared = _header(scope, b"content-length")
        if declared is not None and declared.isdigit() and int(declared) > self.max_bytes:
            response = payload_too_large(self.max_bytes, request_id_from_scope(scope))
            await response(scope, receive, send)
            return
        await self.app(scope, limited_receive(receive, self.max_bytes), send)


def payload_too_large(max_bytes: int, request_id: str | None) -> JSONResponse:
    return error_response(
        413, "payload_too_large", f"The request body exceeds {max_bytes} bytes.", request_id
    )


def limited_receive(receive: Receive, max_bytes: int) -> Receive:
    """`receive` that raises a 413 HTTPException (turned into the JSON error by the handler)
    once the body read so far is over `max_bytes`."""
    received = 0

    async def receive_limited() -> Message:
        nonlocal received
        message = await receive()
        if message["type"] == "http.request":
            received += len(message.get("body", b""))
            if received > max_bytes:
                raise HTTPException(413, f"The request body exceeds {max_bytes} bytes.")
        return message

    return receive_limited
