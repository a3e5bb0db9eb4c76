"""The gateway's errors: each a `common.errors.DomainError` with a stable code, answered by the
shared handler with the shared body."""

from __future__ import annotations

from common.errors import DomainError, NotFound


class NoRoute(NotFound):
    """No upstream serves the path: the same answer as a path a service does not have."""

    message = "No service serves this path."


class BadGateway(DomainError):
    """The upstream refused the connection, closed it, or answered something that is not HTTP."""

    status_code = 502
    code = "bad_gateway"
    message = "The service behind the gateway could not be reached; try again later."


class GatewayTimeout(DomainError):
    """No connection to the upstream in its CONNECT timeout, or no answer in its READ timeout."""

    status_code = 504
    code = "gateway_timeout"
    message = "The service behind the gateway did not answer in time; try again later."
