"""Per-request context carried through async code: the request id that every log line and
outgoing call repeats, and who the client is, for the actor of every audit event recorded
while the request is served. `RequestContextMiddleware` sets both; code outside a request (a
Celery task, the CLI) sees no request id and an unknown client."""

from __future__ import annotations

from collections.abc import MutableMapping, Sequence
from contextvars import ContextVar, Token
from typing import Any

from common.client import ClientInfo, IPNetwork, client_info

request_id_var: ContextVar[str | None] = ContextVar("request_id", default=None)
# The ASGI scope of the request being served; the client is read from it when first asked for.
Scope = MutableMapping[str, Any]
request_scope_var: ContextVar[Scope | None] = ContextVar("request_scope", default=None)

_UNKNOWN = ClientInfo()
_CLIENT = "client"
_TRUSTED_PROXIES = "trusted_proxies"


def get_request_id() -> str | None:
    return request_id_var.get()


def request_id_from_scope(scope: Any) -> str | None:
    """The id `RequestContextMiddleware` stored in the ASGI scope; readable after the context
    variable was reset, as it is when the server-error handler runs."""
    state = scope.get("state")
    return state.get("request_id") if isinstance(state, dict) else None


def enter_request(scope: Scope, trusted_proxies: Sequence[IPNetwork]) -> Token[Scope | None]:
    """Remember the request being served (its client is worked out only if someone asks);
    the caller resets the returned token when the request ends."""
    scope.setdefault("state", {})[_TRUSTED_PROXIES] = trusted_proxies
    return request_scope_var.set(scope)


def current_client() -> ClientInfo:
    """The client of the request being served: its address (behind TRUSTED_PROXIES only) and
    user agent; unknown outside a request."""
    scope = request_scope_var.get()
    if scope is None:
        return _UNKNOWN
    state = scope["state"]
    found = state.get(_CLIENT)
    if not isinstance(found, ClientInfo):
        found = state[_CLIENT] = client_info(scope, state.get(_TRUSTED_PROXIES, ()))
    return found
