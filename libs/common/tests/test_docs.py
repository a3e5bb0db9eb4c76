"""`common.docs`: Swagger UI and ReDoc served from the service's own assets, each page with a
policy that allows exactly its inline script."""

from __future__ import annotations

import base64
import hashlib
import re
from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager

import httpx
import pytest
from fastapi import APIRouter, FastAPI

from common.security import CurrentPrincipal
from common.testing import assert_error

AppFactory = Callable[..., FastAPI]
ClientOpener = Callable[[FastAPI], AbstractAsyncContextManager[httpx.AsyncClient]]

router = APIRouter()


@router.get("/mine")
async def mine(principal: CurrentPrincipal) -> dict[str, str]:
    return {"subject": principal.subject}


@router.get("/public")
async def public() -> dict[str, str]:
    return {"hello": "world"}


@pytest.fixture
async def client(make_app: AppFactory, running: ClientOpener) -> AsyncIterator[httpx.AsyncClient]:
    async with running(make_app(routers=[router])) as http:
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

    async def test_swagger_ui_keeps_its_parameters(self, client: httpx.AsyncClient) -> None:
        response = await client.get("/docs")

        assert '"persistAuthorization": true' in response.text
        assert "oauth2RedirectUrl: window.location.origin + '/docs/oauth2-redirect'" in (
            response.text
        )
