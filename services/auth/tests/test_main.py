"""The assembled service: operational endpoints, docs, shared middleware."""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx

from common.testing import assert_error


class TestOperationalEndpoints:
    async def test_liveness(self, client: httpx.AsyncClient) -> None:
        response = await client.get("/health")
        assert response.json() == {"status": "ok", "checks": {}}

    async def test_readiness_checks_database_and_redis(self, client: httpx.AsyncClient) -> None:
        response = await client.get("/health/ready")
        assert response.status_code == 200
        assert response.json() == {"status": "ok", "checks": {"database": "ok", "redis": "ok"}}

    async def test_metrics_count_requests_by_route_template(
        self, client: httpx.AsyncClient
    ) -> None:
        await client.get("/api/v1/users/00000000-0000-0000-0000-000000000000")
        response = await client.get("/metrics")
        assert response.status_code == 200
        assert 'handler="/api/v1/users/{user_id}"' in response.text
        assert "00000000-0000" not in response.text


class TestDocs:
    async def test_swagger_and_redoc_are_served_from_the_service_itself(
        self, client: httpx.AsyncClient
    ) -> None:
        for path in ("/docs", "/redoc"):
            response = await client.get(path)
            assert response.status_code == 200
            assert "cdn" not in response.headers["content-security-policy"]
            assert "/docs/assets/" in response.text
            assert "cdn" not in response.text

    async def test_openapi_documents_the_password_flow_and_error_shape(
        self, client: httpx.AsyncClient
    ) -> None:
        spec = (await client.get("/openapi.json")).json()
        schemes = spec["components"]["securitySchemes"]
        # Auth's own docs sign in at its own token endpoint, on their origin.
        assert schemes["UserSignIn"]["flows"]["password"]["tokenUrl"] == "/api/v1/auth/token"
        login = spec["paths"]["/api/v1/auth/login"]["post"]["responses"]
        assert login["401"]["content"]["application/json"]["schema"]["$ref"].endswith(
            "/ErrorResponse"
        )
        assert "/.well-known/jwks.json" in spec["paths"]

    async def test_the_authorize_dialog_lists_user_sign_in_first_and_service_clients_last(
        self, client: httpx.AsyncClient
    ) -> None:
        spec = (await client.get("/openapi.json")).json()
        schemes = spec["components"]["securitySchemes"]

        assert list(schemes) == ["UserSignIn", "AccessToken", "ServiceClient"]
        assert schemes["UserSignIn"]["description"].startswith("User sign-in (e-mail and password)")
        assert schemes["ServiceClient"]["description"].startswith("Service client")
        assert spec["paths"]["/api/v1/auth/token"]["post"]["security"] == [{"ServiceClient": []}]
        assert spec["paths"]["/api/v1/auth/me"]["get"]["security"] == [
            {"UserSignIn": []},
            {"AccessToken": []},
        ]


class TestRequestHandling:
    async def test_unknown_routes_answer_json(self, client: httpx.AsyncClient) -> None:
        assert_error(await client.get("/api/v1/nothing-here"), 404, "not_found")

    async def test_wrong_methods_answer_json(self, client: httpx.AsyncClient) -> None:
        assert_error(await client.delete("/api/v1/auth/login"), 405, "method_not_allowed")

    async def test_oversized_bodies_are_refused(self, client: httpx.AsyncClient) -> None:
        response = await client.post(
            "/api/v1/auth/login",
            content=b'{"email": "' + b"a" * (2 * 1024 * 1024) + b'"}',
            headers={"content-type": "application/json"},
        )
        assert_error(response, 413, "payload_too_large")

    async def test_oversized_chunked_bodies_are_refused_while_reading(
        self, client: httpx.AsyncClient
    ) -> None:
        async def chunks() -> AsyncIterator[bytes]:
            yield b'{"email": "'
            for _ in range(40):
                yield b"a" * 65536
            yield b'"}'

        response = await client.post(
            "/api/v1/auth/login", content=chunks(), headers={"content-type": "application/json"}
        )
        assert "content-length" not in response.request.headers
        assert_error(response, 413, "payload_too_large")
