"""The operation ids of every service's OpenAPI document: one rule, derived from what a client
calls, so a generated client's functions are named after the API and not after our Python.

The rule: the route's path without the API prefix, then its method, lower case, every run of
other characters (`/`, `.`, `-`, `_`, `{`, `}`) turned into one `-`:

    GET  /api/v1/auth/me                ->  auth-me-get
    PUT  /api/v1/users/{user_id}/roles  ->  users-user-id-roles-put
    GET  /.well-known/jwks.json         ->  well-known-jwks-json-get
    GET  /health/ready                  ->  health-ready-get

The id changes only when the API does (a new path or method), never when a Python function is
renamed, and it is the same under every API prefix (`/api/v1`, `/api/v2`). Two paths that differ
only in punctuation (`/a-b` and `/a/b`) would get one id: FastAPI only warns of that, so the
OpenAPI contract (`common.testing.contracts.OpenAPIContract`) fails on it. `create_service_app`
passes `operation_id_generator(settings.api_prefix)` to FastAPI as `generate_unique_id_function`.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from typing import Final

from fastapi.routing import APIRoute

OPERATION_ID: Final = re.compile(r"[a-z0-9]+(?:-[a-z0-9]+)*")
"""What every operation id looks like: lower-case words joined by single hyphens."""

_WORD = re.compile(r"[a-z0-9]+")


def operation_id(path: str, methods: Iterable[str], *, api_prefix: str = "") -> str:
    """The id of the operation(s) at `path`. A route of several methods gets one id for all
    of them (FastAPI gives a route one id), which the contract refuses: one method a route."""
    if api_prefix and (path == api_prefix or path.startswith(f"{api_prefix}/")):
        path = path.removeprefix(api_prefix)
    words = _WORD.findall(path.lower()) or ["root"]
    return "-".join([*words, *sorted(method.lower() for method in methods)])


def operation_id_generator(api_prefix: str) -> Callable[[APIRoute], str]:
    """The rule as FastAPI's `generate_unique_id_function`, for an app whose API routes are
    mounted under `api_prefix`."""

    def generate(route: APIRoute) -> str:
        return operation_id(route.path_format, route.methods or (), api_prefix=api_prefix)

    return generate
