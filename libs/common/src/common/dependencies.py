"""The FastAPI dependencies every service's routes use: the service's core and runtime, a
database session per request, the engine for the named hot paths, and the page parameters of
lists. (Token checks are `common.security`: `CurrentPrincipal`, `require_permission`.)

Everything here reads the typed core or runtime (`common.runtime`), never `app.state` itself.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Annotated, TypeVar

from fastapi import Depends, Query, Request
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession

from common.db.pagination import DEFAULT_LIMIT, MAX_LIMIT, PageParams
from common.runtime import ServiceCore, service_core, service_runtime

RuntimeT = TypeVar("RuntimeT")


async def get_core(request: Request) -> ServiceCore:
    return service_core(request.app)


CoreDep = Annotated[ServiceCore, Depends(get_core)]


def runtime_dependency(kind: type[RuntimeT]) -> Callable[[Request], Awaitable[RuntimeT]]:
    """The dependency that gives a service's runtime, checked to be a `kind`:

    RuntimeDep = Annotated[AuthRuntime, Depends(runtime_dependency(AuthRuntime))]
    """

    async def get_runtime(request: Request) -> RuntimeT:
        return service_runtime(request.app, kind)

    return get_runtime


async def get_session(core: CoreDep) -> AsyncIterator[AsyncSession]:
    """One session per request; whatever a service did not commit is rolled back on close."""
    async with core.database.sessionmaker() as session:
        yield session


async def get_engine(core: CoreDep) -> AsyncEngine:
    """The engine itself, for the hot paths that read without a session (decision 0007)."""
    return core.database.engine


SessionDep = Annotated[AsyncSession, Depends(get_session)]
EngineDep = Annotated[AsyncEngine, Depends(get_engine)]


async def get_page_params(
    limit: Annotated[int, Query(ge=1, le=MAX_LIMIT, description="Items per page.")] = DEFAULT_LIMIT,
    cursor: Annotated[
        str | None,
        Query(max_length=512, description="`next_cursor` of the previous page."),
    ] = None,
) -> PageParams:
    return PageParams(limit=limit, cursor=cursor)


PageParamsDep = Annotated[PageParams, Depends(get_page_params)]
