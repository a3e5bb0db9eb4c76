"""A service calling auth over real HTTP with common's client and a client-credentials token."""

from __future__ import annotations

import httpx
from fastapi import FastAPI

from auth_service.services.revocations import AccessRevocations
from auth_service.services.service_clients import ServiceClientAdmin
from common.http_client import ServiceClient, ServiceTokenProvider
from common.runtime import service_core
from common.testing import serve_app


class TestServiceClientAgainstAuth:
    async def test_fetches_a_token_and_calls_a_protected_route(self, app: FastAPI) -> None:
        async with service_core(app).database.sessionmaker() as session:
            clients = ServiceClientAdmin(session, revocations=AccessRevocations())
            _, secret = await clients.create(name="reports", permissions=["users:read"])
        async with serve_app(app) as base_url, httpx.AsyncClient() as http:
            provider = ServiceTokenProvider(
                f"{base_url}/api/v1/auth/token", "reports", secret, client=http
            )
            async with ServiceClient(base_url, token_provider=provider) as client:
                response = await client.get("/api/v1/users")
                assert response.status_code == 200
                assert response.json() == {"items": [], "next_cursor": None}
                echoed = await client.get("/api/v1/users", headers={"X-Request-ID": "caller-123"})
                assert echoed.headers["x-request-id"] == "caller-123"
