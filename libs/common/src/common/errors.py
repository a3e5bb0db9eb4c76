"""The one error hierarchy. Services subclass these; one handler turns them into JSON.

Each class carries an HTTP status and a stable machine-readable `code` that clients may branch
on. Messages are for humans and may change; codes may not.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, ClassVar


class DomainError(Exception):
    status_code: ClassVar[int] = 400
    code: ClassVar[str] = "bad_request"
    message: ClassVar[str] = "The request could not be processed."

    def __init__(
        self,
        message: str | None = None,
        *,
        headers: Mapping[str, str] | None = None,
        details: Any = None,
    ) -> None:
        self.detail = message or self.message
        self.headers = dict(headers or {})
        self.details = details
        super().__init__(self.detail)


class BadRequest(DomainError):
    pass


class NotFound(DomainError):
    status_code = 404
    code = "not_found"
    message = "The resource does not exist."


class Conflict(DomainError):
    status_code = 409
    code = "conflict"
    message = "The request conflicts with the current state."


class InvalidInput(DomainError):
    status_code = 422
    code = "validation_error"
    message = "The request is not valid."


class InvalidCursor(InvalidInput):
    code = "invalid_cursor"
    message = "The cursor is not valid for this list."


class NotAuthenticated(DomainError):
    """401 with the RFC 6750 challenge, so clients know a bearer token is expected."""

    status_code = 401
    code = "not_authenticated"
    message = "Authentication is required."
    challenge: ClassVar[str] = 'Bearer realm="api"'

    def __init__(self, message: str | None = None, **kwargs: Any) -> None:
        super().__init__(message, **kwargs)
        self.headers.setdefault("WWW-Authenticate", self.challenge)


class InvalidToken(NotAuthenticated):
    code = "invalid_token"
    message = "The access token is invalid."
    challenge = 'Bearer realm="api", error="invalid_token"'


class TokenExpired(InvalidToken):
    code = "token_expired"
    message = "The access token has expired."


class PermissionDenied(DomainError):
    status_code = 403
    code = "permission_denied"
    message = "You do not have permission to do this."


class RateLimited(DomainError):
    status_code = 429
    code = "rate_limited"
    message = "Too many requests; try again later."

    def __init__(self, retry_after: int, message: str | None = None) -> None:
        self.retry_after = max(1, retry_after)
        super().__init__(message, headers={"Retry-After": str(self.retry_after)})


class ServiceUnavailable(DomainError):
    status_code = 503
    code = "service_unavailable"
    message = "A dependency is unavailable; try again later."
