"""`create_service_app`: the one factory that wires settings, database, Redis, token
verification, routers, metrics and docs, and runs a service's own start-up after the shared
resources exist."""

from __future__ import annotations

import gc
from collections.abc import AsyncIterator, Callable, Mapping
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from dataclasses import dataclass
from typing import Annotated, Any

import httpx
import pytest
from fastapi import APIRouter, Depends, FastAPI
from sqlalchemy import text

from common.db import Database
from common.dependencies import SessionDep, runtime_dependency
from common.runtime import ServiceCore, service_core, service_runtime
from common.security import JwksSource, TokenVerifier
from common.settings import ServiceSettings
from common.testing import assert_documented, assert_error

AppFactory = Callable[..., FastAPI]
ClientOpener = Callable[[FastAPI], AbstractAsyncContextManager[httpx.AsyncClient]]

router = APIRouter(prefix="/items")


@router.get("/{item_id}")
async def get_item(item_id: int) -> dict[str, int]:
    return {"id": item_id}


root_router = APIRouter()


@root_router.get("/.well-known/thing")
async def well_known() -> dict[str, str]:
    return {"at": "root"}


db_router = APIRouter(prefix="/clock")


@db_router.get("")
async def database_clock(session: SessionDep) -> dict[str, str]:
    return {"now": str((await session.execute(text("SELECT now()"))).scalar_one())}


@dataclass(frozen=True)
class GreeterRuntime:
    """A service's own runtime, as a real service builds one on the core."""

    greeting: str
    core: ServiceCore


GreeterDep = Annotated[GreeterRuntime, Depends(runtime_dependency(GreeterRuntime))]


@root_router.get("/started-by")
async def started_by(runtime: GreeterDep) -> dict[str, str]:
    return {"value": runtime.greeting}


class TestRouters:
    async def test_api_routers_are_mounted_under_the_api_prefix(
        self, make_app: AppFactory, running: ClientOpener
    ) -> None:
        async with running(make_app(routers=[router])) as client:
            mounted = await client.get("/api/v1/items/7")
            unprefixed = await client.get("/items/7")

        assert mounted.json() == {"id": 7}
        assert_error(unprefixed, 404, "not_found")

    async def test_the_api_prefix_comes_from_the_settings(
        self, make_app: AppFactory, running: ClientOpener
    ) -> None:
        async with running(make_app(routers=[router], api_prefix="/api/v2")) as client:
            response = await client.get("/api/v2/items/7")

        assert response.json() == {"id": 7}

    async def test_root_routers_are_mounted_at_the_root(
        self, make_app: AppFactory, running: ClientOpener
    ) -> None:
        async with running(make_app(root_routers=[root_router])) as client:
            response = await client.get("/.well-known/thing")

        assert response.json() == {"at": "root"}

    async def test_health_is_always_mounted(
        self, make_app: AppFactory, running: ClientOpener
    ) -> None:
        async with running(make_app()) as client:
            response = await client.get("/health")

        assert response.json() == {"status": "ok", "checks": {}}


class TestDocumentedRefusals:
    """What the shared middleware and the shared resources answer, whatever the route, is in
    every operation's OpenAPI: a client generated from the document knows these answers, and
    the fuzzing pass holds the services to it (it found them undocumented)."""

    async def test_a_body_too_large_is_413_on_every_operation(
        self, make_app: AppFactory, running: ClientOpener
    ) -> None:
        app = make_app(routers=[router], root_routers=[root_router], max_body_size=16)
        async with running(app) as client:
            for path in ("/api/v1/items/7", "/.well-known/thing", "/health"):
                response = await client.request("GET", path, content=b"x" * 17)

                assert_error(response, 413, "payload_too_large")
                assert_documented(app.openapi(), "GET", template(path), response)

    async def test_headers_too_large_are_431_on_every_operation(
        self, make_app: AppFactory, running: ClientOpener
    ) -> None:
        app = make_app(routers=[router], root_routers=[root_router])
        async with running(app) as client:
            for path in ("/api/v1/items/7", "/.well-known/thing", "/health"):
                response = await client.get(path, headers={"X-Padding": "x" * 20_000})

                assert_error(response, 431, "headers_too_large")
                assert_documented(app.openapi(), "GET", template(path), response)

    async def test_a_host_not_served_is_400_on_every_operation_when_hosts_are_listed(
        self, make_app: AppFactory, running: ClientOpener
    ) -> None:
        app = make_app(
            routers=[router], root_routers=[root_router], trusted_hosts=["api.example.com"]
        )
        async with running(app) as client:
            for path in ("/api/v1/items/7", "/.well-known/thing", "/health"):
                response = await client.get(path)  # Host: testserver

                assert_error(response, 400, "invalid_host")
                assert_documented(app.openapi(), "GET", template(path), response)

    async def test_no_host_refusal_is_documented_when_every_host_is_served(
        self, make_app: AppFactory
    ) -> None:
        """A route's own 400s stay visible to the fuzzing pass where no Host is refused."""
        app = make_app(routers=[router], trusted_hosts=["*"])

        assert "400" not in app.openapi()["paths"]["/api/v1/items/{item_id}"]["get"]["responses"]

    async def test_an_unreachable_database_is_503_on_api_operations(
        self, make_app: AppFactory, running: ClientOpener
    ) -> None:
        app = make_app(
            routers=[db_router], database_url="postgresql+asyncpg://postgres@127.0.0.1:1/nothing"
        )
        async with running(app) as client:
            response = await client.get("/api/v1/clock")

        assert_error(response, 503, "dependency_unavailable")
        assert_documented(app.openapi(), "GET", "/api/v1/clock", response)

    async def test_root_operations_document_only_their_own_dependencies(
        self, make_app: AppFactory
    ) -> None:
        """Every API operation reads the database or checks a token; a root route (discovery
        documents) says itself whether it can be unavailable."""
        app = make_app(root_routers=[root_router])

        assert "503" not in app.openapi()["paths"]["/.well-known/thing"]["get"]["responses"]


def template(path: str) -> str:
    return path.replace("/items/7", "/items/{item_id}")


class TestLifespan:
    async def test_the_service_runtime_is_built_on_the_ready_core(
        self, make_app: AppFactory, running: ClientOpener
    ) -> None:
        seen: dict[str, object] = {}

        @asynccontextmanager
        async def runtime(core: ServiceCore) -> AsyncIterator[GreeterRuntime]:
            async with core.database.engine.connect() as connection:
                seen["database"] = (await connection.execute(text("SELECT 41 + 1"))).scalar()
            seen["redis"] = await core.redis.ping()
            seen["verifier"] = isinstance(core.token_verifier, TokenVerifier)
            seen["http"] = isinstance(core.http, httpx.AsyncClient)
            yield GreeterRuntime(greeting="service runtime", core=core)

        async with running(make_app(root_routers=[root_router], runtime=runtime)) as client:
            response = await client.get("/started-by")

        assert seen == {"database": 42, "redis": True, "verifier": True, "http": True}
        assert response.json() == {"value": "service runtime"}

    async def test_the_service_cleans_up_before_the_shared_resources_close(
        self, make_app: AppFactory, running: ClientOpener
    ) -> None:
        at_shutdown: dict[str, object] = {}

        @asynccontextmanager
        async def runtime(core: ServiceCore) -> AsyncIterator[GreeterRuntime]:
            yield GreeterRuntime(greeting="bye", core=core)
            at_shutdown["redis"] = await core.redis.ping()
            await core.database.ping()
            at_shutdown["database"] = "ok"
            at_shutdown["http_closed"] = core.http.is_closed

        app = make_app(runtime=runtime)
        async with running(app):
            core = service_core(app)

        assert at_shutdown == {"redis": True, "database": "ok", "http_closed": False}
        assert core.http.is_closed

    async def test_the_core_carries_the_settings(
        self, make_app: AppFactory, running: ClientOpener
    ) -> None:
        app = make_app(service_name="inventory")
        async with running(app):
            assert service_core(app).settings.service_name == "inventory"

    async def test_what_start_up_built_is_frozen_out_of_the_cyclic_gc(
        self, make_app: AppFactory, running: ClientOpener
    ) -> None:
        gc.unfreeze()
        try:
            app = make_app(root_routers=[root_router], gc_freeze_after_startup=True)
            async with running(app):
                frozen = gc.get_freeze_count()
                built = {id(o) for o in gc.get_objects()}
        finally:
            gc.unfreeze()
        assert frozen > 0
        # The app and its core are among the frozen objects: no generation tracks them.
        assert id(app) not in built
        assert id(service_core(app)) not in built

    async def test_the_freeze_can_be_turned_off(
        self, make_app: AppFactory, running: ClientOpener
    ) -> None:
        gc.unfreeze()
        async with running(make_app(gc_freeze_after_startup=False)):
            assert gc.get_freeze_count() == 0

    def test_an_app_that_has_not_started_says_so(self, make_app: AppFactory) -> None:
        app = make_app()
        with pytest.raises(RuntimeError, match="has not started"):
            service_core(app)
        with pytest.raises(RuntimeError, match="no GreeterRuntime"):
            service_runtime(app, GreeterRuntime)


class TestTokenVerifierWiring:
    async def test_the_verifier_follows_the_settings(
        self, make_app: AppFactory, running: ClientOpener
    ) -> None:
        app = make_app(
            jwt_issuer="https://issuer.test",
            jwt_audience="inventory",
            jwt_leeway_seconds=7,
            jwks_cache_seconds=120,
            jwks_min_refresh_interval=3,
            token_cache_size=50,
        )
        async with running(app):
            verifier = service_core(app).token_verifier

            assert (verifier.issuer, verifier.audience, verifier.leeway) == (
                "https://issuer.test",
                "inventory",
                7,
            )
            assert (
                verifier.cache_seconds,
                verifier.min_refresh_interval,
                verifier.token_cache_size,
            ) == (120, 3, 50)

    async def test_a_jwks_source_factory_receives_the_settings_and_the_database(
        self, make_app: AppFactory, running: ClientOpener
    ) -> None:
        received: list[tuple[ServiceSettings, Database]] = []

        def factory(settings: ServiceSettings, database: Database) -> JwksSource:
            received.append((settings, database))

            async def source() -> Mapping[str, Any]:
                return {"keys": []}

            return source

        app = make_app(jwks_source=factory, service_name="keys-from-a-table")
        async with running(app):
            core = service_core(app)

        assert received == [(core.settings, core.database)]


class TestMetrics:
    async def test_requests_are_counted_by_route_template(
        self, make_app: AppFactory, running: ClientOpener
    ) -> None:
        async with running(make_app(routers=[router])) as client:
            await client.get("/api/v1/items/1")
            await client.get("/api/v1/items/2")
            await client.get("/no/such/path/123")
            metrics = await client.get("/metrics")

        assert metrics.status_code == 200
        assert metrics.headers["content-type"].startswith("text/plain")
        lines = metrics.text.splitlines()
        assert (
            'http_requests_total{handler="/api/v1/items/{item_id}",method="GET",status="2xx"} 2.0'
            in lines
        )
        # Unknown paths are grouped, so scanners cannot blow up the number of series.
        assert 'http_requests_total{handler="none",method="GET",status="4xx"} 1.0' in lines
        assert "/no/such/path/123" not in metrics.text

    async def test_latency_is_observed_per_route_template_and_method(
        self, make_app: AppFactory, running: ClientOpener
    ) -> None:
        async with running(make_app(routers=[router])) as client:
            await client.get("/api/v1/items/7")
            await client.get("/health")
            metrics = await client.get("/metrics")

        lines = metrics.text.splitlines()
        count = (
            'http_request_duration_seconds_count{handler="/api/v1/items/{item_id}",method="GET"}'
        )
        assert f"{count} 1.0" in lines
        assert 'http_request_duration_seconds_count{handler="/health",method="GET"} 1.0' in lines
        assert 'handler="/metrics"' not in metrics.text

    async def test_the_metrics_endpoint_is_not_in_the_api_schema(
        self, make_app: AppFactory, running: ClientOpener
    ) -> None:
        async with running(make_app()) as client:
            schema = (await client.get("/openapi.json")).json()

        assert "/metrics" not in schema["paths"]

    async def test_each_app_has_its_own_registry(
        self, make_app: AppFactory, running: ClientOpener
    ) -> None:
        busy, idle = make_app(routers=[router]), make_app(routers=[router])
        async with running(busy) as busy_client, running(idle) as idle_client:
            await busy_client.get("/api/v1/items/1")
            busy_metrics = (await busy_client.get("/metrics")).text
            idle_metrics = (await idle_client.get("/metrics")).text

        assert 'handler="/api/v1/items/{item_id}"' in busy_metrics
        assert 'handler="/api/v1/items/{item_id}"' not in idle_metrics

    async def test_no_metrics_endpoint_when_disabled(
        self, make_app: AppFactory, running: ClientOpener
    ) -> None:
        async with running(make_app(metrics_enabled=False)) as client:
            response = await client.get("/metrics")

        assert_error(response, 404, "not_found")


class TestDocs:
    @pytest.fixture
    async def client(
        self, make_app: AppFactory, running: ClientOpener
    ) -> AsyncIterator[httpx.AsyncClient]:
        async with running(make_app(routers=[router])) as http:
            yield http

    async def test_the_openapi_schema_describes_the_service(
        self, client: httpx.AsyncClient
    ) -> None:
        schema = (await client.get("/openapi.json")).json()

        assert schema["info"]["title"] == "Common test service"
        assert schema["info"]["version"] == "0.1.0"
        assert {"/health", "/health/ready", "/api/v1/items/{item_id}"} <= set(schema["paths"])

    async def test_swagger_ui_keeps_the_authorization_between_reloads(
        self, client: httpx.AsyncClient
    ) -> None:
        response = await client.get("/docs")

        assert response.status_code == 200
        assert response.headers["content-type"].startswith("text/html")
        assert '"persistAuthorization": true' in response.text

    async def test_redoc_is_served(self, client: httpx.AsyncClient) -> None:
        response = await client.get("/redoc")

        assert response.status_code == 200
        assert "redoc" in response.text.lower()

    @pytest.mark.parametrize(
        "settings",
        [
            pytest.param({"docs_enabled": False}, id="turned off"),
            pytest.param(
                {
                    "environment": "production",
                    "secret_key": "p" * 48,
                    "trusted_hosts": ["testserver"],
                    "jwt_issuer": "https://auth.example.com",
                },
                id="production",
            ),
        ],
    )
    @pytest.mark.parametrize(
        "path",
        ["/docs", "/redoc", "/openapi.json", "/docs/oauth2-redirect", "/docs/assets/favicon.png"],
    )
    async def test_no_docs_when_turned_off_or_in_production(
        self, make_app: AppFactory, running: ClientOpener, settings: dict[str, Any], path: str
    ) -> None:
        async with running(make_app(routers=[router], **settings)) as client:
            response = await client.get(path)
            api = await client.get("/api/v1/items/1")

        assert_error(response, 404, "not_found")
        assert api.json() == {"id": 1}

    async def test_production_serves_docs_when_told_to(
        self, make_app: AppFactory, running: ClientOpener
    ) -> None:
        app = make_app(
            environment="production",
            secret_key="p" * 48,
            trusted_hosts=["testserver"],
            jwt_issuer="https://auth.example.com",
            docs_enabled=True,
        )
        async with running(app) as client:
            statuses = [(await client.get(p)).status_code for p in ("/docs", "/openapi.json")]

        assert statuses == [200, 200]
