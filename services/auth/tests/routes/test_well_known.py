"""Discovery: the JWKS and the OpenID configuration, checked with PyJWT alone over real HTTP."""

from __future__ import annotations

import asyncio
from typing import Any

import httpx
import jwt
import pytest
from fastapi import FastAPI

from auth_service.runtime import AuthRuntime
from common.runtime import service_core, service_runtime
from common.testing import assert_documented, assert_error, serve_app

API = "/api/v1"


class TestJwksWhenTheDatabaseIsBusy:
    @pytest.fixture
    def settings_overrides(self) -> dict[str, Any]:
        return {"db_pool_size": 1, "db_max_overflow": 0, "db_pool_timeout": 0.2}

    async def test_is_503_database_busy_as_documented(
        self, app: FastAPI, client: httpx.AsyncClient
    ) -> None:
        """The JWKS is read from the database: with every connection of the pool taken, it is
        back-pressure, which the operation's OpenAPI lists (it listed only 200)."""
        async with service_core(app).database.engine.connect():
            response = await client.get("/.well-known/jwks.json")

        assert_error(response, 503, "database_busy")
        assert_documented(app.openapi(), "GET", "/.well-known/jwks.json", response)


class TestJwks:
    async def test_publishes_the_active_rsa_key_with_a_cache_lifetime(
        self, client: httpx.AsyncClient
    ) -> None:
        response = await client.get("/.well-known/jwks.json")
        assert response.status_code == 200
        assert response.headers["cache-control"] == "public, max-age=60"
        [key] = response.json()["keys"]
        assert key["kty"] == "RSA"
        assert key["alg"] == "RS256"
        assert key["use"] == "sig"
        assert set(key) == {"kty", "alg", "use", "kid", "n", "e"}  # no private parts

    async def test_a_login_token_verifies_with_pyjwt_alone(
        self, app: FastAPI, register: Any
    ) -> None:
        account = await register()
        settings = service_runtime(app, AuthRuntime).settings
        async with serve_app(app) as base_url:
            jwks_client = jwt.PyJWKClient(f"{base_url}/.well-known/jwks.json")
            signing_key = await asyncio.to_thread(
                jwks_client.get_signing_key_from_jwt, account.access_token
            )
            verified = jwt.decode(
                account.access_token,
                signing_key.key,
                algorithms=["RS256"],
                audience=settings.jwt_audience,
                issuer=settings.jwt_issuer,
            )
        assert verified["sub"] == account.id


class TestOpenIDConfiguration:
    async def test_points_at_the_jwks_and_token_endpoint(
        self, client: httpx.AsyncClient, app: FastAPI
    ) -> None:
        response = await client.get("/.well-known/openid-configuration")
        assert response.status_code == 200
        body = response.json()
        settings = service_runtime(app, AuthRuntime).settings
        assert body["issuer"] == settings.jwt_issuer
        assert body["jwks_uri"] == f"{settings.public_url}/.well-known/jwks.json"
        assert body["token_endpoint"] == f"{settings.public_url}{API}/auth/token"
        assert set(body["grant_types_supported"]) == {
            "password",
            "refresh_token",
            "client_credentials",
        }
        assert body["id_token_signing_alg_values_supported"] == ["RS256"]
