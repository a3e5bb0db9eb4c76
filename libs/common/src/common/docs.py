"""The interactive docs of a service, served by the service itself: Swagger UI at `/docs`, ReDoc
at `/redoc` and their bundles at `/docs/assets/`, from the `fastapi-offline` package (decision
0016): no CDN, so they work on a machine without a network.

Each page sends its own Content-Security-Policy
(`common.middleware.docs_content_security_policy`): its inline script runs by its hash, and
nothing loads from anywhere but the service.
"""

from __future__ import annotations

import base64
import hashlib
import os
import re
from collections.abc import Awaitable, Callable

from fastapi import FastAPI
from fastapi.openapi.docs import (
    get_redoc_html,
    get_swagger_ui_html,
    get_swagger_ui_oauth2_redirect_html,
)
from starlette.requests import Request
from starlette.responses import HTMLResponse, Response
from starlette.staticfiles import StaticFiles
from starlette.types import Scope

from common.middleware import docs_content_security_policy

DOCS_URL = "/docs"
REDOC_URL = "/redoc"
ASSETS_URL = "/docs/assets"
_INLINE_SCRIPT = re.compile(r"<script>(.*?)</script>", re.DOTALL)


class _Assets(StaticFiles):
    """The bundles of `fastapi-offline`: revalidated by ETag on each load (`no-cache`) rather
    than fetched whole again (the `no-store` every other answer gets)."""

    def file_response(
        self,
        full_path: str | os.PathLike[str],
        stat_result: os.stat_result,
        scope: Scope,
        status_code: int = 200,
    ) -> Response:
        response = super().file_response(full_path, stat_result, scope, status_code)
        response.headers["Cache-Control"] = "no-cache"
        return response


def _root_path(request: Request) -> str:
    """The prefix a proxy stripped from the path (uvicorn's `--root-path`), as FastAPI's own
    docs pages honour it."""
    return str(request.scope.get("root_path", "")).rstrip("/")


def _with_policy(page: HTMLResponse) -> HTMLResponse:
    """`page` with the docs' policy, allowing exactly the inline scripts it carries."""
    hashes = [
        base64.b64encode(hashlib.sha256(script.encode()).digest()).decode()
        for script in _INLINE_SCRIPT.findall(bytes(page.body).decode())
    ]
    page.headers["Content-Security-Policy"] = docs_content_security_policy(script_hashes=hashes)
    return page


def install_docs(app: FastAPI) -> None:
    """Serve `/docs`, `/redoc` and their assets from `app` (made with no docs or ReDoc URL of
    its own, and an OpenAPI URL)."""
    openapi_url = app.openapi_url
    if openapi_url is None:
        raise ValueError("the docs need the OpenAPI document: the app has no openapi_url")
    redirect_url = app.swagger_ui_oauth2_redirect_url or f"{DOCS_URL}/oauth2-redirect"
    app.mount(ASSETS_URL, _Assets(packages=[("fastapi_offline", "static")]), name="docs-assets")

    async def swagger_ui(request: Request) -> HTMLResponse:
        root = _root_path(request)
        assets = root + ASSETS_URL
        page = get_swagger_ui_html(
            openapi_url=root + openapi_url,
            title=f"{app.title} - Swagger UI",
            swagger_js_url=f"{assets}/swagger-ui-bundle.js",
            swagger_css_url=f"{assets}/swagger-ui.css",
            swagger_favicon_url=f"{assets}/favicon.png",
            oauth2_redirect_url=root + redirect_url,
            init_oauth=app.swagger_ui_init_oauth,
            swagger_ui_parameters=app.swagger_ui_parameters,
        )
        return _with_policy(page)

    async def swagger_ui_redirect(request: Request) -> HTMLResponse:
        return _with_policy(get_swagger_ui_oauth2_redirect_html())

    async def redoc(request: Request) -> HTMLResponse:
        root = _root_path(request)
        return _with_policy(
            get_redoc_html(
                openapi_url=root + openapi_url,
                title=f"{app.title} - ReDoc",
                redoc_js_url=f"{root}{ASSETS_URL}/redoc.standalone.js",
                redoc_favicon_url=f"{root}{ASSETS_URL}/favicon.png",
                with_google_fonts=False,
            )
        )

    pages: dict[str, Callable[[Request], Awaitable[HTMLResponse]]] = {
        DOCS_URL: swagger_ui,
        redirect_url: swagger_ui_redirect,
        REDOC_URL: redoc,
    }
    for path, page in pages.items():
        app.add_route(path, page, include_in_schema=False)
