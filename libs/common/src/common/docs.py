"""The interactive docs of a service, served by the service itself: Swagger UI at `/docs`, ReDoc
at `/redoc` and their bundles at `/docs/assets/`, from the `fastapi-offline` package (decision
0017): no CDN, so they work on a machine without a network.

Each page sends its own Content-Security-Policy
(`common.middleware.docs_content_security_policy`): its inline script runs by its hash, only
ReDoc may add styles at run time, and Swagger UI may call the service and the origin of auth's
token endpoint, nothing else.

The OpenAPI document says how to sign in (`document_sign_in`): the password flow posts to the
settings' token URL (DOCS_TOKEN_URL: auth's public endpoint), and every operation that takes a
user's access token also accepts one pasted in the Authorize dialog (`AccessToken`, an HTTP
bearer scheme: the same `Authorization` header, checked the same way). The dialog lists user
sign-in first, then the pasted token, then the rest (auth's service clients).
"""

from __future__ import annotations

import base64
import hashlib
import os
import re
from collections.abc import Awaitable, Callable
from typing import Any
from urllib.parse import urlsplit

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
from common.security import USER_SIGN_IN

DOCS_URL = "/docs"
REDOC_URL = "/redoc"
ASSETS_URL = "/docs/assets"
ACCESS_TOKEN = "AccessToken"  # noqa: S105 (a security scheme's name, not a secret)
"""The name of the pasted-token scheme among the OpenAPI security schemes."""

_ACCESS_TOKEN_SCHEME: dict[str, Any] = {
    "type": "http",
    "scheme": "bearer",
    "bearerFormat": "JWT",
    "description": "An access token, pasted (the `access_token` of `POST /api/v1/auth/login`).",
}
_INLINE_SCRIPT = re.compile(r"<script>(.*?)</script>", re.DOTALL)
# Swagger UI focuses the first field of the last form in the Authorize dialog that has one
# (auth's service-client form), which scrolls the dialog past user sign-in: focus user
# sign-in's e-mail field instead, each time the dialog opens.
_FOCUS_USER_SIGN_IN = """<script>
new MutationObserver(() => {
  const field = document.querySelector(".modal-ux #oauth_username:not([data-focused])");
  if (field) { field.dataset.focused = "yes"; field.focus(); }
}).observe(document.body, { childList: true, subtree: true });
</script>
"""


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


def _origin(url: str) -> str | None:
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}" if parts.scheme and parts.netloc else None


def _root_path(request: Request) -> str:
    """The prefix a proxy stripped from the path (uvicorn's `--root-path`), as FastAPI's own
    docs pages honour it."""
    return str(request.scope.get("root_path", "")).rstrip("/")


def _with_policy(
    page: HTMLResponse, *, connect: tuple[str, ...] = (), redoc: bool = False
) -> HTMLResponse:
    """`page` with the docs' policy, allowing exactly the inline scripts it carries."""
    hashes = [
        base64.b64encode(hashlib.sha256(script.encode()).digest()).decode()
        for script in _INLINE_SCRIPT.findall(bytes(page.body).decode())
    ]
    page.headers["Content-Security-Policy"] = docs_content_security_policy(
        script_hashes=hashes, connect=connect, redoc=redoc
    )
    return page


def document_sign_in(schema: dict[str, Any], *, token_url: str) -> dict[str, Any]:
    """`schema` (an app's OpenAPI) with its password flow posting to `token_url`, the pasted
    token accepted wherever the password flow's token is, and those two first. Idempotent."""
    schemes: dict[str, Any] = schema.get("components", {}).get("securitySchemes", {})
    if USER_SIGN_IN not in schemes:
        return schema
    schemes[USER_SIGN_IN]["flows"]["password"]["tokenUrl"] = token_url
    first = {USER_SIGN_IN: schemes[USER_SIGN_IN], ACCESS_TOKEN: _ACCESS_TOKEN_SCHEME}
    schema["components"]["securitySchemes"] = first | {
        name: scheme for name, scheme in schemes.items() if name not in first
    }
    for path_item in schema.get("paths", {}).values():
        for operation in path_item.values():
            security = operation.get("security") if isinstance(operation, dict) else None
            if not security or {ACCESS_TOKEN: []} in security:
                continue
            signed_in = [i for i, needs in enumerate(security) if USER_SIGN_IN in needs]
            if signed_in:
                security.insert(signed_in[0] + 1, {ACCESS_TOKEN: []})
    return schema


def install_docs(app: FastAPI, *, token_url: str) -> None:
    """Serve `/docs`, `/redoc` and their assets from `app` (made with no docs or ReDoc URL of
    its own, and an OpenAPI URL), whose Authorize dialog signs users in at `token_url`."""
    openapi_url = app.openapi_url
    if openapi_url is None:
        raise ValueError("the docs need the OpenAPI document: the app has no openapi_url")
    redirect_url = app.swagger_ui_oauth2_redirect_url or f"{DOCS_URL}/oauth2-redirect"
    connect = tuple(filter(None, [_origin(token_url)]))
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
        html = bytes(page.body).decode().replace("</body>", f"{_FOCUS_USER_SIGN_IN}</body>", 1)
        return _with_policy(HTMLResponse(html), connect=connect)

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
            ),
            redoc=True,
        )

    pages: dict[str, Callable[[Request], Awaitable[HTMLResponse]]] = {
        DOCS_URL: swagger_ui,
        redirect_url: swagger_ui_redirect,
        REDOC_URL: redoc,
    }
    for path, page in pages.items():
        app.add_route(path, page, include_in_schema=False)

    generate = app.openapi

    def openapi() -> dict[str, Any]:
        return document_sign_in(generate(), token_url=token_url)

    app.openapi = openapi  # type: ignore[method-assign]  # FastAPI's documented way to extend it
