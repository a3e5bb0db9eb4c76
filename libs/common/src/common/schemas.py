"""Base classes for request and response bodies."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from typing import Annotated, Any

from pydantic import AfterValidator, AwareDatetime, BaseModel, BeforeValidator, ConfigDict


def to_utc(value: datetime) -> datetime:
    """`value` (timezone-aware) in UTC. Near the ends of the calendar a time can have no UTC
    value (midnight of 1 January of year 1 at UTC+1 is still in year 0): that is a ValueError,
    which pydantic reports as a validation error, instead of the OverflowError that
    `astimezone` raises and that would escape validation."""
    try:
        return value.astimezone(UTC)
    except OverflowError as exc:
        raise ValueError("the time is out of range once converted to UTC") from exc


def iso_8601_only(value: object) -> object:
    """Refuse what pydantic would otherwise read as a Unix time (`-1`, `99999999999999`): the
    API speaks ISO 8601, and a number is a client's mistake, not a time."""
    if isinstance(value, datetime):
        return value
    if isinstance(value, str) and not _NUMBER.fullmatch(value.strip()):
        return value
    raise ValueError("an ISO 8601 time with a time zone is expected")


_NUMBER = re.compile(r"[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?")

# An ISO 8601 time with a time zone, given back in UTC; one that has no UTC value is refused.
UtcDateTime = Annotated[AwareDatetime, BeforeValidator(iso_8601_only), AfterValidator(to_utc)]


class RequestModel(BaseModel):
    """Request bodies refuse unknown fields: a client sending `roles` or `is_superuser` to a
    registration endpoint gets a 422, not a silently ignored field."""

    model_config = ConfigDict(extra="forbid")


class ResponseModel(BaseModel):
    """Response bodies are built from ORM objects."""

    model_config = ConfigDict(from_attributes=True)


class MessageResponse(BaseModel):
    detail: str


class ErrorBody(BaseModel):
    code: str
    message: str
    request_id: str | None
    details: Any = None


class ErrorResponse(BaseModel):
    """The body of every error answer."""

    error: ErrorBody


_DESCRIPTIONS = {
    400: "Bad request",
    401: "Missing, invalid or expired credentials",
    403: "Missing permission",
    404: "Not found",
    409: "Conflict with the current state",
    413: "Body too large",
    422: "Malformed request",
    429: "Too many requests",
    431: "Request headers too large",
    503: "A dependency is unavailable",
}

# Headers an error answer of that status always carries (`common.errors.RateLimited` sets it).
_HEADERS: dict[int, dict[str, Any]] = {
    429: {
        "Retry-After": {
            "description": "Seconds to wait before trying again",
            "required": True,
            "schema": {"type": "integer", "minimum": 1},
        }
    },
}


def error_responses(*statuses: int) -> dict[int | str, dict[str, Any]]:
    """`responses=` for a route: documents its error answers with the shared error shape (and
    the headers some of them always carry: `Retry-After` on a 429)."""
    responses: dict[int | str, dict[str, Any]] = {}
    for status in statuses:
        response: dict[str, Any] = {
            "model": ErrorResponse,
            "description": _DESCRIPTIONS.get(status, "Error"),
        }
        if status in _HEADERS:
            response["headers"] = _HEADERS[status]
        responses[status] = response
    return responses
