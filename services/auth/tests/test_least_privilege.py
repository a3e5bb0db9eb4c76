"""The service runs as a database role that can only read and write the rows of its own schema
(the grants of docs/runbooks.md): no DDL, no other schema."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator

import asyncpg
import httpx
import pytest
from asgi_lifespan import LifespanManager
from sqlalchemy.engine import make_url

from auth_service.main import create_app
from auth_service.settings import AuthSettings

API = "/api/v1"


async def _admin(database_url: str, *statements: str) -> None:
    connection = await asyncpg.connect(database_url.replace("+asyncpg", ""))
    try:
        for statement in statements:
            await connection.execute(statement)
    finally:
        await connection.close()


@pytest.fixture
async def app_role(clean_database: str) -> AsyncIterator[str]:
    """A login role with the runbook's grants on the `auth` schema, dropped afterwards."""
    role = f"auth_app_{uuid.uuid4().hex[:8]}"
    await _admin(
        clean_database,
        f"CREATE ROLE {role} LOGIN",
        f"GRANT USAGE ON SCHEMA auth TO {role}",
        f"GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA auth TO {role}",
    )
    try:
        yield role
    finally:
        await _admin(clean_database, f"DROP OWNED BY {role}", f"DROP ROLE {role}")


@pytest.fixture
def restricted_settings(settings: AuthSettings, app_role: str) -> AuthSettings:
    url = make_url(settings.database_url).set(username=app_role)
    return settings.model_copy(update={"database_url": url.render_as_string(hide_password=False)})


class TestLeastPrivilege:
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

    async def test_the_role_cannot_change_the_schema(
        self, restricted_settings: AuthSettings
    ) -> None:
        connection = await asyncpg.connect(restricted_settings.database_url.replace("+asyncpg", ""))
        try:
            with pytest.raises(asyncpg.InsufficientPrivilegeError):
                await connection.execute("DROP TABLE auth.user_role")
            with pytest.raises(asyncpg.InsufficientPrivilegeError):
                await connection.execute("CREATE TABLE auth.sneaky (id int)")
        finally:
            await connection.close()
