"""The one place errors become responses: `{"error": {"code", "message", "request_id"}}`.

Validation errors never echo the submitted input (it may be a password); unexpected errors are
logged with their traceback and answered with a generic 500 that reveals nothing.
"""

from __future__ import annotations

import logging
from http import HTTPStatus
from typing import Any

import asyncpg
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError
from sqlalchemy.exc import DBAPIError
from sqlalchemy.exc import TimeoutError as PoolTimeout
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.formparsers import MultiPartException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from common.context import request_id_from_scope
from common.errors import DomainError
from common.redis import RedisPoolExhausted

logger = logging.getLogger(__name__)

_HTTP_CODES = {
    400: "bad_request",
    401: "not_authenticated",
    403: "permission_denied",
    404: "not_found",
    405: "method_not_allowed",
    406: "not_acceptable",
    413: "payload_too_large",
    415: "unsupported_media_type",
    429: "rate_limited",
}


def error_response(
    status_code: int,
    code: str,
    message: str,
    request_id: str | None,
    *,
    details: Any = None,
    headers: dict[str, str] | None = None,
) -> JSONResponse:
    error: dict[str, Any] = {"code": code, "message": message, "request_id": request_id}
    if details is not None:
        error["details"] = details
    response_headers = dict(headers or {})
    if request_id:
        response_headers["X-Request-ID"] = request_id
    return JSONResponse({"error": error}, status_code=status_code, headers=response_headers)


async def domain_error_handler(request: Request, exc: Exception) -> JSONResponse:
    if not isinstance(exc, DomainError):
        return await unexpected_error_handler(request, exc)
    return error_response(
        exc.status_code,
        exc.code,
        exc.detail,
        request_id_from_scope(request.scope),
        details=exc.details,
        headers=exc.headers,
    )


def _clean_validation_errors(errors: Any) -> list[dict[str, Any]]:
    return [
        {"loc": list(e.get("loc", ())), "msg": e.get("msg", ""), "type": e.get("type", "")}
        for e in errors
    ]


_MALFORMED_JSON = "The request body is not valid JSON."


async def validation_error_handler(request: Request, exc: Exception) -> JSONResponse:
    if not isinstance(exc, RequestValidationError):
        return await unexpected_error_handler(request, exc)
    details = _clean_validation_errors(exc.errors())
    if any(d["type"] == "json_invalid" for d in details):
        code, message = "malformed_json", _MALFORMED_JSON
    else:
        code, message = "validation_error", "The request is not valid."
    return error_response(422, code, message, request_id_from_scope(request.scope), details=details)


# FastAPI answers a body it could not read at all (JSON that is not UTF-8) with a 400 of this
# detail, and Starlette a multipart body without a boundary or with a broken part with a 400
# raised while handling its MultiPartException. Every operation that takes a body documents 422
# for malformed requests (JSON that does not parse already gets 422): these are 422 too.
_UNREADABLE_BODY = "There was an error parsing the body"


def _is_unreadable_body(exc: StarletteHTTPException) -> bool:
    return exc.status_code == 400 and (
        exc.detail == _UNREADABLE_BODY or isinstance(exc.__context__, MultiPartException)
    )


def _is_json(content_type: str | None) -> bool:
    media_type = (content_type or "").split(";", 1)[0].strip().lower()
    return media_type == "application/json" or (
        media_type.startswith("application/") and media_type.endswith("+json")
    )


def _unreadable_body(request: Request) -> JSONResponse:
    request_id = request_id_from_scope(request.scope)
    if _is_json(request.headers.get("content-type")):
        detail = {"loc": ["body"], "msg": "The body is not UTF-8 JSON", "type": "json_invalid"}
        return error_response(422, "malformed_json", _MALFORMED_JSON, request_id, details=[detail])
    return error_response(
        422, "malformed_body", "The request body could not be parsed.", request_id
    )


async def http_error_handler(request: Request, exc: Exception) -> JSONResponse:
    if not isinstance(exc, StarletteHTTPException):
        return await unexpected_error_handler(request, exc)
    if _is_unreadable_body(exc):
        return _unreadable_body(request)
    status = exc.status_code
    try:
        phrase = HTTPStatus(status).phrase
    except ValueError:
        phrase = "Error"
    code = _HTTP_CODES.get(status, phrase.lower().replace(" ", "_").replace("-", "_"))
    message = exc.detail if isinstance(exc.detail, str) and exc.detail else phrase
    return error_response(
        status,
        code,
        message,
        request_id_from_scope(request.scope),
        headers=dict(exc.headers or {}),
    )


def _sqlstate(exc: Exception) -> str:
    """The SQLSTATE of a database error, wrapped by SQLAlchemy or raw from asyncpg."""
    origin = exc.orig if isinstance(exc, DBAPIError) else exc
    return str(getattr(origin, "sqlstate", None) or "")


async def database_error_handler(request: Request, exc: Exception) -> JSONResponse:
    """Pool exhaustion and lost connections are outages to retry, not bugs: 503, not 500. A
    value PostgreSQL cannot store or compare (SQLSTATE class 22: a NUL character, a number out
    of range) came from the client: 422, whatever field or query string carried it."""
    request_id = request_id_from_scope(request.scope)
    if _sqlstate(exc).startswith("22"):
        return error_response(
            422,
            "invalid_value",
            "A value in the request cannot be stored or compared (for example a NUL character).",
            request_id,
        )
    if isinstance(exc, PoolTimeout):
        logger.warning("database pool exhausted on %s", request.url.path)
        return error_response(
            503,
            "database_busy",
            "The database is busy; try again shortly.",
            request_id,
            headers={"Retry-After": "1"},
        )
    if isinstance(exc, DBAPIError) and (
        exc.connection_invalidated or isinstance(exc.orig, OSError)
    ):
        logger.warning("database connection lost on %s: %s", request.url.path, exc.orig)
        return error_response(
            503,
            "database_unavailable",
            "The database is unavailable; try again later.",
            request_id,
        )
    return await unexpected_error_handler(request, exc)


async def connection_error_handler(request: Request, exc: Exception) -> JSONResponse:
    """A dependency refused the connection outright (asyncpg raises the bare OSError when
    PostgreSQL is down): an outage, answered 503."""
    logger.warning("dependency unreachable on %s: %r", request.url.path, exc)
    return error_response(
        503,
        "dependency_unavailable",
        "A required service is unavailable; try again later.",
        request_id_from_scope(request.scope),
    )


async def redis_error_handler(request: Request, exc: Exception) -> JSONResponse:
    logger.warning("redis unavailable on %s: %r", request.url.path, exc)
    return error_response(
        503,
        "redis_unavailable",
        "A required service is unavailable; try again later.",
        request_id_from_scope(request.scope),
    )


async def redis_busy_handler(request: Request, exc: Exception) -> JSONResponse:
    """Every Redis connection of this process stayed busy for REDIS_POOL_TIMEOUT: back-pressure,
    like `database_busy`; Redis itself answers, so the client is told to retry, not that a
    dependency is down."""
    logger.warning("redis pool exhausted on %s", request.url.path)
    return error_response(
        503,
        "redis_busy",
        "The service is busy; try again shortly.",
        request_id_from_scope(request.scope),
        headers={"Retry-After": "1"},
    )


async def unexpected_error_handler(request: Request, exc: Exception) -> JSONResponse:
    request_id = request_id_from_scope(request.scope)
    logger.error(
        "unhandled error on %s %s",
        request.method,
        request.url.path,
        exc_info=exc,
        extra={"request_id": request_id},
    )
    return error_response(500, "internal_error", "An unexpected error occurred.", request_id)


class UnhandledErrorMiddleware:
    """Turns an exception no handler claimed into the generic 500 *inside* our middleware, so
    the answer still gets the request id, timing and security headers (Starlette's own
    last-resort handler sits outside all middleware) and is logged once, not twice."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = False

        async def send_tracking(message: Message) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
            await send(message)

        try:
            await self.app(scope, receive, send_tracking)
        except Exception as exc:
            if started:
                raise  # half a response is out; only the server can end it
            response = await unexpected_error_handler(Request(scope), exc)
            await response(scope, receive, send)


def install_error_handlers(app: FastAPI) -> None:
    app.add_exception_handler(DomainError, domain_error_handler)
    app.add_exception_handler(RequestValidationError, validation_error_handler)
    app.add_exception_handler(StarletteHTTPException, http_error_handler)
    app.add_exception_handler(PoolTimeout, database_error_handler)
    app.add_exception_handler(DBAPIError, database_error_handler)
    app.add_exception_handler(asyncpg.exceptions.DataError, database_error_handler)
    app.add_exception_handler(RedisConnectionError, redis_error_handler)
    app.add_exception_handler(RedisTimeoutError, redis_error_handler)
    app.add_exception_handler(RedisPoolExhausted, redis_busy_handler)
    app.add_exception_handler(ConnectionError, connection_error_handler)
    app.add_exception_handler(Exception, unexpected_error_handler)
