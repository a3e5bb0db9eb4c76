"""`common.docs`: Swagger UI and ReDoc served from the service's own assets, each page with a
policy that allows exactly its inline script and the token endpoint, and an OpenAPI document
that says where and how to sign in. (In a real browser: tests/stack/test_docs.py.)"""

from __future__ import annotations

import base64
import copy
import hashlib
import re
from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager
from typing import Any

import httpx
import pytest
from fastapi import APIRouter, FastAPI

from common.docs import document_sign_in
from common.security import CurrentPrincipal
from common.testing import assert_error

AppFactory = Callable[..., FastAPI]
ClientOpener = Callable[[FastAPI], AbstractAsyncContextManager[httpx.AsyncClient]]
TOKEN_URL = "https://auth.example.com/api/v1/auth/token"

router = APIRouter()


@router.get("/mine")
async def mine(principal: CurrentPrincipal) -> dict[str, str]:
    return {"subject": principal.subject}


@router.get("/public")
async def public() -> dict[str, str]:
    return {"hello": "world"}


@pytest.fixture
async def client(make_app: AppFactory, running: ClientOpener) -> AsyncIterator[httpx.AsyncClient]:
    async with running(make_app(routers=[router], docs_token_url=TOKEN_URL)) as http:
        yield http


def directives(response: httpx.Response) -> dict[str, str]:
    policy = response.headers["content-security-policy"]
    return dict(part.strip().split(" ", 1) for part in policy.split(";"))


class TestAssets:
    @pytest.mark.parametrize(
        ("asset", "media_type"),
        [
            ("swagger-ui-bundle.js", "text/javascript"),
            ("swagger-ui.css", "text/css"),
            ("redoc.standalone.js", "text/javascript"),
            ("favicon.png", "image/png"),
        ],
    )
    async def test_the_bundles_come_from_the_service_itself(
        self, client: httpx.AsyncClient, asset: str, media_type: str
    ) -> None:
        response = await client.get(f"/docs/assets/{asset}")

        assert response.status_code == 200
        assert response.headers["content-type"].startswith(media_type)
        assert len(response.content) > 1000

    async def test_a_browser_revalidates_them_instead_of_downloading_them_again(
        self, client: httpx.AsyncClient
    ) -> None:
        first = await client.get("/docs/assets/swagger-ui-bundle.js")
        again = await client.get(
            "/docs/assets/swagger-ui-bundle.js", headers={"If-None-Match": first.headers["etag"]}
        )

        assert first.headers["cache-control"] == "no-cache"
        assert again.status_code == 304
        assert again.content == b""

    @pytest.mark.parametrize("path", ["/docs/assets/nothing.js", "/docs/assets/"])
    async def test_an_unknown_asset_is_a_json_404(
        self, client: httpx.AsyncClient, path: str
    ) -> None:
        assert_error(await client.get(path), 404, "not_found")


class TestPages:
    @pytest.mark.parametrize(
        ("path", "bundle"),
        [("/docs", "swagger-ui-bundle.js"), ("/redoc", "redoc.standalone.js")],
    )
    async def test_a_page_loads_its_bundle_from_the_service_and_nothing_from_elsewhere(
        self, client: httpx.AsyncClient, path: str, bundle: str
    ) -> None:
        response = await client.get(path)

        assert response.status_code == 200
        assert f'src="/docs/assets/{bundle}"' in response.text
        assert "http://" not in response.text
        assert "https://" not in response.text

    @pytest.mark.parametrize("path", ["/docs", "/redoc", "/docs/oauth2-redirect"])
    async def test_an_inline_script_runs_by_its_hash_and_no_other_does(
        self, client: httpx.AsyncClient, path: str
    ) -> None:
        response = await client.get(path)
        inline = re.findall(r"<script>(.*?)</script>", response.text, re.DOTALL)
        hashes = [
            f"'sha256-{base64.b64encode(hashlib.sha256(s.encode()).digest()).decode()}'"
            for s in inline
        ]

        assert directives(response)["script-src"] == " ".join(["'self'", *hashes])
        assert directives(response)["default-src"] == "'none'"
        assert directives(response)["frame-ancestors"] == "'none'"

    async def test_only_redoc_may_add_styles_and_start_a_worker(
        self, client: httpx.AsyncClient
    ) -> None:
        swagger_ui = directives(await client.get("/docs"))
        redoc = directives(await client.get("/redoc"))

        assert swagger_ui["style-src"] == "'self'"
        assert "worker-src" not in swagger_ui
        # ReDoc's styled-components writes <style> elements; its search runs in a worker.
        assert redoc["style-src"] == "'self' 'unsafe-inline'"
        assert redoc["worker-src"] == "blob:"

    async def test_swagger_ui_may_call_the_service_and_the_token_endpoint_only(
        self, client: httpx.AsyncClient
    ) -> None:
        response = await client.get("/docs")

        assert directives(response)["connect-src"] == "'self' https://auth.example.com"

    async def test_a_token_endpoint_on_the_same_origin_adds_nothing(
        self, make_app: AppFactory, running: ClientOpener
    ) -> None:
        async with running(make_app(docs_token_url="/api/v1/auth/token")) as client:
            response = await client.get("/docs")

        assert directives(response)["connect-src"] == "'self'"

    async def test_swagger_ui_keeps_its_parameters(self, client: httpx.AsyncClient) -> None:
        response = await client.get("/docs")

        assert '"persistAuthorization": true' in response.text
        assert "oauth2RedirectUrl: window.location.origin + '/docs/oauth2-redirect'" in (
            response.text
        )


class TestSignIn:
    async def test_the_password_flow_posts_to_the_token_url_of_the_settings(
        self, client: httpx.AsyncClient
    ) -> None:
        schema = (await client.get("/openapi.json")).json()

        flows = schema["components"]["securitySchemes"]["UserSignIn"]["flows"]
        assert flows["password"]["tokenUrl"] == TOKEN_URL

    async def test_a_signed_in_operation_also_takes_a_pasted_token(
        self, client: httpx.AsyncClient
    ) -> None:
        schema = (await client.get("/openapi.json")).json()

        assert list(schema["components"]["securitySchemes"]) == ["UserSignIn", "AccessToken"]
        assert schema["components"]["securitySchemes"]["AccessToken"] == {
            "type": "http",
            "scheme": "bearer",
            "bearerFormat": "JWT",
            "description": "An access token, pasted (the `access_token` of "
            "`POST /api/v1/auth/login`).",
        }
        assert schema["paths"]["/api/v1/mine"]["get"]["security"] == [
            {"UserSignIn": []},
            {"AccessToken": []},
        ]
        assert "security" not in schema["paths"]["/api/v1/public"]["get"]

    async def test_a_pasted_token_is_checked_like_any_other(
        self, client: httpx.AsyncClient
    ) -> None:
        # One Authorization header, one check: the document changed, the requests did not.
        response = await client.get("/api/v1/mine", headers={"Authorization": "Bearer nope"})

        assert_error(response, 401, "invalid_token")

    def test_user_sign_in_and_the_pasted_token_come_first(self) -> None:
        schema: dict[str, Any] = {
            "components": {
                "securitySchemes": {
                    "ServiceClient": {"type": "http", "scheme": "basic"},
                    "UserSignIn": {"type": "oauth2", "flows": {"password": {"tokenUrl": "/t"}}},
                }
            },
            "paths": {
                "/token": {"post": {"security": [{"ServiceClient": []}]}},
                "/me": {"get": {"security": [{"UserSignIn": []}]}, "parameters": []},
            },
        }

        documented = document_sign_in(schema, token_url=TOKEN_URL)

        assert list(documented["components"]["securitySchemes"]) == [
            "UserSignIn",
            "AccessToken",
            "ServiceClient",
        ]
        assert documented["paths"]["/token"]["post"]["security"] == [{"ServiceClient": []}]
        assert documented["paths"]["/me"]["get"]["security"] == [
            {"UserSignIn": []},
            {"AccessToken": []},
        ]
        assert document_sign_in(copy.deepcopy(documented), token_url=TOKEN_URL) == documented

    def test_a_document_without_user_sign_in_is_left_alone(self) -> None:
        schema: dict[str, Any] = {"paths": {"/health": {"get": {}}}}

        assert document_sign_in(copy.deepcopy(schema), token_url=TOKEN_URL) == schema
