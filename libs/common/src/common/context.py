"""Per-request context carried through async code: the request id that every log line and
outgoing call repeats."""

from __future__ import annotations

from contextvars import ContextVar
from typing import Any

request_id_var: ContextVar[str | None] = ContextVar("request_id", default=None)


def get_request_id() -> str | None:
    return request_id_var.get()


def request_id_from_scope(scope: Any) -> str | None:
    """The id `RequestContextMiddleware` stored in the ASGI scope; readable after the context
    variable was reset, as it is when the server-error handler runs."""
    state = scope.get("state")
    return state.get("request_id") if isinstance(state, dict) else None
