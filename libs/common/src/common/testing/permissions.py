"""The permission contract, checked from a service's own tests: every `require_permission(...)`
its app runs names a permission of the shared catalog (`common.permissions.CATALOG`), so auth
seeds it and an administrator can grant it."""

from __future__ import annotations

from collections.abc import Iterator, Sequence

from fastapi import FastAPI
from fastapi.dependencies.models import Dependant
from fastapi.routing import APIRoute, APIWebSocketRoute, iter_route_contexts
from starlette.routing import BaseRoute, Mount

from common.permissions import CATALOG
from common.security import PermissionCheck


def _dependants(routes: Sequence[BaseRoute], prefix: str = "") -> Iterator[tuple[str, Dependant]]:
    # FastAPI keeps included routers as they were declared; `iter_route_contexts` (what its
    # OpenAPI generation walks) yields each route with its prefix and its routers' dependencies.
    for context in iter_route_contexts(routes):
        route = context.original_route
        if isinstance(route, APIRoute | APIWebSocketRoute):
            dependant: Dependant = context.dependant
            yield prefix + str(context.path), dependant
        elif isinstance(route, Mount):
            yield from _dependants(route.routes, prefix + route.path)


def _checks(dependant: Dependant) -> Iterator[PermissionCheck]:
    if isinstance(dependant.call, PermissionCheck):
        yield dependant.call
    for sub in dependant.dependencies:
        yield from _checks(sub)


def permissions_checked(app: FastAPI) -> dict[str, set[str]]:
    """Route path → the permissions its dependencies (at any depth) require."""
    checked: dict[str, set[str]] = {}
    for path, dependant in _dependants(app.routes):
        for check in _checks(dependant):
            checked.setdefault(path, set()).update(check.permissions)
    return checked


def assert_permissions_catalogued(app: FastAPI) -> set[str]:
    """Every permission a route of `app` requires is in the catalog; returns them. An app with
    no permission check at all fails too: the walk found nothing to hold against the catalog."""
    checked = permissions_checked(app)
    assert checked, "no route of the app requires a permission: nothing was checked"
    unknown = {
        path: sorted(names - CATALOG.keys())
        for path, names in checked.items()
        if names - CATALOG.keys()
    }
    assert not unknown, f"routes require permissions missing from common.permissions: {unknown}"
    return set().union(*checked.values())
