"""The service runs as a database role that can only read and write the rows of its own schema
(the grants of docs/runbooks.md): no DDL, no other schema; the whole account flow works so."""

from __future__ import annotations

import httpx
import pytest
from asgi_lifespan import LifespanManager

from auth_service.main import create_app
from auth_service.settings import AuthSettings
from common.testing.contracts import LeastPrivilegeContract

API = "/api/v1"


class TestLeastPrivilege(LeastPrivilegeContract):
    service = "auth"

    @pytest.fixture
    def restricted_settings(self, settings: AuthSettings, restricted_url: str) -> AuthSettings:
        return settings.model_copy(update={"database_url": restricted_url})

    async def test_the_whole_account_flow_needs_only_row_privileges(
        self, restricted_settings: AuthSettings, password: str
    ) -> None:
        app = create_app(restricted_settings)
        async with LifespanManager(app):  # seeds roles and makes the first signing key
            transport = httpx.ASGITransport(app=app)
            async with httpx.AsyncClient(transport=transport, base_url="http://t") as client:
                registered = await client.post(
                    f"{API}/auth/register", json={"email": "ro@example.com", "password": password}
                )
                assert registered.status_code == 201
                login = await client.post(
                    f"{API}/auth/login", json={"email": "ro@example.com", "password": password}
                )
                assert login.status_code == 200
                headers = {"Authorization": f"Bearer {login.json()['access_token']}"}
                me = await client.get(f"{API}/auth/me", headers=headers)
                assert me.json()["email"] == "ro@example.com"
                refreshed = await client.post(
                    f"{API}/auth/refresh", json={"refresh_token": login.json()["refresh_token"]}
                )
                assert refreshed.status_code == 200
                jwks = await client.get("/.well-known/jwks.json")
                assert len(jwks.json()["keys"]) == 1
