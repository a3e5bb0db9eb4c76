"""The assembled service: operational endpoints, docs, the routes it serves."""

from __future__ import annotations

import httpx

from common.testing import assert_error

from .conftest import API, Caller


class TestOperationalEndpoints:
    async def test_liveness(self, client: httpx.AsyncClient) -> None:
        assert (await client.get("/health")).json() == {"status": "ok", "checks": {}}

    async def test_readiness_checks_database_and_redis(self, client: httpx.AsyncClient) -> None:
        response = await client.get("/health/ready")
        assert response.status_code == 200
        assert response.json() == {"status": "ok", "checks": {"database": "ok", "redis": "ok"}}

    async def test_metrics_count_requests_by_route_template(
        self, client: httpx.AsyncClient, auditor: Caller
    ) -> None:
        await client.get(
            f"{API}/activity/00000000-0000-0000-0000-000000000000", headers=auditor.headers
        )
        response = await client.get("/metrics")
        assert 'handler="/api/v1/activity/{event_id}"' in response.text


class TestDocs:
    async def test_openapi_lists_the_activity_api_with_the_error_shape(
        self, client: httpx.AsyncClient
    ) -> None:
        spec = (await client.get("/openapi.json")).json()
        assert spec["info"]["title"] == "Activity service"
        assert {
            "/api/v1/activity",
            "/api/v1/activity/me",
            "/api/v1/activity/verify",
            "/api/v1/activity/export",
            "/api/v1/activity/{event_id}",
        } <= set(spec["paths"])
        listing = spec["paths"]["/api/v1/activity"]["get"]
        assert {p["name"] for p in listing["parameters"]} == {
            "actor_id",
            "action",
            "resource_type",
            "resource_id",
            "since",
            "until",
            "limit",
            "cursor",
        }
        assert listing["responses"]["422"]["content"]["application/json"]["schema"][
            "$ref"
        ].endswith("/ErrorResponse")
        export = spec["paths"]["/api/v1/activity/export"]["get"]
        assert "format" in {p["name"] for p in export["parameters"]}

    async def test_swagger_is_served(self, client: httpx.AsyncClient) -> None:
        assert (await client.get("/docs")).status_code == 200

    async def test_the_authorize_dialog_signs_in_at_auth(self, client: httpx.AsyncClient) -> None:
        # Outside production, DOCS_TOKEN_URL defaults to auth on :8001 (`make dev`).
        spec = (await client.get("/openapi.json")).json()
        sign_in = spec["components"]["securitySchemes"]["UserSignIn"]
        docs = await client.get("/docs")

        assert sign_in["flows"]["password"]["tokenUrl"] == "http://localhost:8001/api/v1/auth/token"
        assert (
            "connect-src 'self' http://localhost:8001;" in docs.headers["content-security-policy"]
        )


class TestRequestHandling:
    async def test_unknown_routes_answer_json(self, client: httpx.AsyncClient) -> None:
        assert_error(await client.get(f"{API}/nothing-here"), 404, "not_found")

    async def test_the_api_is_read_only(self, client: httpx.AsyncClient, auditor: Caller) -> None:
        response = await client.post(f"{API}/activity", headers=auditor.headers, json={})
        assert_error(response, 405, "method_not_allowed")
