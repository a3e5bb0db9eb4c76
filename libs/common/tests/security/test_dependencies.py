"""`CurrentPrincipal` and `require_permission`: a bearer token becomes a `Principal` verified
against the JWKS of the auth service (served here over real HTTP), and routes answer 401 or 403
in the shared error shape when it is missing, invalid or not allowed."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator, Callable, Mapping
from contextlib import AbstractAsyncContextManager
from typing import Any

import httpx
import pytest
from fastapi import APIRouter, FastAPI
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from common.db import Database
from common.security import (
    TOKEN_URL,
    USER_SIGN_IN,
    CurrentPrincipal,
    JwksSource,
    require_permission,
)
from common.settings import ServiceSettings
from common.testing import assert_error, free_port, serve_app

AppFactory = Callable[..., FastAPI]
ClientOpener = Callable[[FastAPI], AbstractAsyncContextManager[httpx.AsyncClient]]
Mint = Callable[..., str]

router = APIRouter()


@router.get("/me")
async def me(principal: CurrentPrincipal) -> dict[str, Any]:
    return {"subject": principal.subject, "permissions": sorted(principal.permissions)}


@router.get("/users", dependencies=[require_permission("users:read", "users:write")])
async def manage_users() -> dict[str, str]:
    return {"allowed": "yes"}


@pytest.fixture(scope="module")
async def jwks_url(jwks_document: dict[str, Any]) -> AsyncIterator[str]:
    async def jwks(request: Request) -> JSONResponse:
        return JSONResponse(jwks_document)

    async with serve_app(Starlette(routes=[Route("/.well-known/jwks.json", jwks)])) as base_url:
        yield f"{base_url}/.well-known/jwks.json"


@pytest.fixture
async def client(
    make_app: AppFactory, running: ClientOpener, jwks_url: str, issuer: str, audience: str
) -> AsyncIterator[httpx.AsyncClient]:
    app = make_app(routers=[router], jwks_url=jwks_url, jwt_issuer=issuer, jwt_audience=audience)
    async with running(app) as http:
        yield http


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


class TestCurrentPrincipal:
    async def test_a_valid_token_gives_the_route_its_principal(
        self, client: httpx.AsyncClient, mint: Mint
    ) -> None:
        response = await client.get(
            "/api/v1/me", headers=bearer(mint(sub="user-1", permissions=["b:x", "a:y"]))
        )

        assert response.status_code == 200
        assert response.json() == {"subject": "user-1", "permissions": ["a:y", "b:x"]}

    async def test_no_token_is_401_with_the_bearer_challenge(
        self, client: httpx.AsyncClient
    ) -> None:
        response = await client.get("/api/v1/me")

        error = assert_error(response, 401, "not_authenticated")
        assert error["message"] == "Authentication is required."
        assert response.headers["www-authenticate"] == 'Bearer realm="api"'

    async def test_another_scheme_is_401_not_authenticated(self, client: httpx.AsyncClient) -> None:
        response = await client.get("/api/v1/me", headers={"Authorization": "Basic dXNlcjpwdw=="})

        assert_error(response, 401, "not_authenticated")

    async def test_an_invalid_token_is_401_invalid_token(self, client: httpx.AsyncClient) -> None:
        response = await client.get("/api/v1/me", headers=bearer("not-a-token"))

        assert_error(response, 401, "invalid_token")
        assert response.headers["www-authenticate"] == 'Bearer realm="api", error="invalid_token"'

    async def test_an_expired_token_is_401_token_expired(
        self, client: httpx.AsyncClient, mint: Mint
    ) -> None:
        now = int(time.time())
        expired = mint(iat=now - 3600, nbf=now - 3600, exp=now - 600)

        response = await client.get("/api/v1/me", headers=bearer(expired))

        error = assert_error(response, 401, "token_expired")
        assert error["message"] == "The access token has expired."

    async def test_a_token_for_another_audience_is_401_invalid_token(
        self, client: httpx.AsyncClient, mint: Mint
    ) -> None:
        response = await client.get("/api/v1/me", headers=bearer(mint(aud="other-api")))

        assert_error(response, 401, "invalid_token")

    async def test_the_token_never_appears_in_an_error(
        self, client: httpx.AsyncClient, mint: Mint
    ) -> None:
        token = mint(iss="https://evil.example")

        response = await client.get("/api/v1/me", headers=bearer(token))

        assert_error(response, 401, "invalid_token")
        assert token not in response.text

    async def test_an_unreachable_jwks_is_503_jwks_unavailable(
        self, make_app: AppFactory, running: ClientOpener, mint: Mint, issuer: str
    ) -> None:
        app = make_app(
            routers=[router],
            jwks_url=f"http://127.0.0.1:{free_port()}/.well-known/jwks.json",
            jwt_issuer=issuer,
        )
        async with running(app) as client:
            response = await client.get("/api/v1/me", headers=bearer(mint()))

        error = assert_error(response, 503, "jwks_unavailable")
        assert error["message"] == "The token signing keys cannot be fetched; try again later."

    async def test_a_jwks_source_of_the_service_replaces_the_http_fetch(
        self,
        make_app: AppFactory,
        running: ClientOpener,
        mint: Mint,
        jwks_document: dict[str, Any],
        issuer: str,
    ) -> None:
        def own_keys(settings: ServiceSettings, database: Database) -> JwksSource:
            async def source() -> Mapping[str, Any]:
                return jwks_document

            return source

        app = make_app(
            routers=[router],
            jwks_source=own_keys,
            jwks_url=f"http://127.0.0.1:{free_port()}/unused",
            jwt_issuer=issuer,
        )
        async with running(app) as client:
            response = await client.get("/api/v1/me", headers=bearer(mint(sub="local")))

        assert response.json()["subject"] == "local"


class TestRequirePermission:
    async def test_all_permissions_held_is_allowed(
        self, client: httpx.AsyncClient, mint: Mint
    ) -> None:
        token = mint(permissions=["users:read", "users:write", "roles:read"])

        response = await client.get("/api/v1/users", headers=bearer(token))

        assert response.status_code == 200
        assert response.json() == {"allowed": "yes"}

    async def test_one_missing_permission_is_403(
        self, client: httpx.AsyncClient, mint: Mint
    ) -> None:
        response = await client.get(
            "/api/v1/users", headers=bearer(mint(permissions=["users:read"]))
        )

        error = assert_error(response, 403, "permission_denied")
        assert error["message"] == "You do not have permission to do this."

    async def test_a_role_name_is_not_a_permission(
        self, client: httpx.AsyncClient, mint: Mint
    ) -> None:
        token = mint(roles=["super_admin", "users:read", "users:write"], permissions=[])

        response = await client.get("/api/v1/users", headers=bearer(token))

        assert_error(response, 403, "permission_denied")

    async def test_no_token_is_401_not_403(self, client: httpx.AsyncClient) -> None:
        response = await client.get("/api/v1/users")

        assert_error(response, 401, "not_authenticated")


class TestOpenApi:
    async def test_protected_routes_document_the_oauth2_password_flow(
        self, client: httpx.AsyncClient
    ) -> None:
        schema = (await client.get("/openapi.json")).json()

        scheme = schema["components"]["securitySchemes"][USER_SIGN_IN]
        assert scheme["type"] == "oauth2"
        assert scheme["description"].startswith("User sign-in (e-mail and password)")
        assert "password" in scheme["flows"]
        assert {USER_SIGN_IN: []} in schema["paths"]["/api/v1/me"]["get"]["security"]

    def test_the_code_names_auths_path_which_each_app_replaces_by_its_settings(self) -> None:
        app = FastAPI()  # not the shared factory: no `common.docs`
        app.include_router(router)

        scheme = app.openapi()["components"]["securitySchemes"][USER_SIGN_IN]
        assert scheme["flows"]["password"]["tokenUrl"] == TOKEN_URL == "/api/v1/auth/token"
