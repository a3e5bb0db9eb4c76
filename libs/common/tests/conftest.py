"""Fixtures of the shared library's tests: settings with explicit values (a developer's `.env`
cannot leak in), apps built by the real application factory, and a client that runs an app's
lifespan and talks to it over ASGI."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from typing import Any

import httpx
import pytest
from asgi_lifespan import LifespanManager
from fastapi import FastAPI
from sqlalchemy import MetaData, NullPool, text
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine

from common.app import create_service_app
from common.settings import ServiceSettings

SettingsFactory = Callable[..., ServiceSettings]
AppFactory = Callable[..., FastAPI]
ClientOpener = Callable[[FastAPI], AbstractAsyncContextManager[httpx.AsyncClient]]


@pytest.fixture
def make_settings(database_url: str, redis_url: str, redis_prefix: str) -> SettingsFactory:
    """Settings of a test service on the run's database and the test's Redis prefix."""

    def make(**overrides: Any) -> ServiceSettings:
        values: dict[str, Any] = {
            "service_name": "common-test",
            "database_url": database_url,
            "redis_url": redis_url,
            "redis_key_prefix": redis_prefix,
            "environment": "test",
            "access_log": False,
            "log_level": "INFO",
        }
        values.update(overrides)
        return ServiceSettings(_env_file=None, **values)

    return make


@pytest.fixture
def make_app(make_settings: SettingsFactory) -> AppFactory:
    """`make_app(routers=[...], runtime=..., jwks_source=..., **settings_overrides)`: an app
    built by `create_service_app`, exactly as a service's `main.py` builds its own."""

    def make(
        *,
        routers: Any = (),
        root_routers: Any = (),
        runtime: Any = None,
        jwks_source: Any = None,
        **overrides: Any,
    ) -> FastAPI:
        return create_service_app(
            make_settings(**overrides),
            title="Common test service",
            description="An app built by the shared factory for the tests of `common`.",
            routers=routers,
            root_routers=root_routers,
            runtime=runtime,
            jwks_source=jwks_source,
        )

    return make


@asynccontextmanager
async def _running(app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    async with LifespanManager(app):
        # Unexpected errors are answered by the app and then re-raised to the server (as
        # Starlette does); the client should see the answer, as a real client would.
        transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
        async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
            yield client


@pytest.fixture
def running() -> ClientOpener:
    """`async with running(app) as client:` runs the app's lifespan and yields a client."""
    return _running


# Database fixtures: an engine on the run's database and a scratch schema, `common_test`, for
# the tables the tests of `common` define themselves (the services' schemas are left alone). A
# module creates its tables once (`create_tables`, dropped with the schema when the module
# ends); `empty_tables` truncates them after each test that asks for it.
SCHEMA = "common_test"

TableMaker = Callable[[MetaData], Awaitable[None]]


@pytest.fixture(scope="session")
async def engine(database_url: str) -> AsyncIterator[AsyncEngine]:
    engine = create_async_engine(database_url, poolclass=NullPool)
    try:
        yield engine
    finally:
        await engine.dispose()


@pytest.fixture(scope="module")
async def create_tables(engine: AsyncEngine) -> AsyncIterator[TableMaker]:
    """`await create_tables(metadata)` creates the tables of `metadata` in `common_test`; the
    schema and everything in it is dropped when the module's tests are done."""

    async def create(metadata: MetaData) -> None:
        assert metadata.schema == SCHEMA, "test tables belong in the scratch schema"
        async with engine.begin() as connection:
            await connection.execute(text(f'CREATE SCHEMA IF NOT EXISTS "{SCHEMA}"'))
            await connection.run_sync(metadata.create_all)

    yield create
    async with engine.begin() as connection:
        await connection.execute(text(f'DROP SCHEMA IF EXISTS "{SCHEMA}" CASCADE'))


@pytest.fixture
async def empty_tables(engine: AsyncEngine) -> AsyncIterator[None]:
    """Truncates every table of the scratch schema after the test."""
    yield
    async with engine.begin() as connection:
        names = (
            await connection.execute(
                text("SELECT quote_ident(tablename) FROM pg_tables WHERE schemaname = :schema"),
                {"schema": SCHEMA},
            )
        ).scalars()
        tables = ", ".join(f'"{SCHEMA}".{name}' for name in names)
        if tables:
            await connection.execute(text(f"TRUNCATE {tables}"))
