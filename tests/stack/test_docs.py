"""The docs of the stack in a real browser with the network off (headless Chromium,
`common.testing.browser`): auth and activity served by uvicorn on loopback, as `make dev` runs
them on :8001 and :8002. `/docs` and `/redoc` render from each service's own assets, and the
Authorize dialog of the activity service signs a user in at auth (another origin: CORS and the
page's Content-Security-Policy for real) so that "Try it out" succeeds."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import httpx
import pytest
from playwright.async_api import Locator, Page, Response

from activity_service.main import create_app as create_activity_app
from activity_service.settings import ActivitySettings
from auth_service.main import create_app as create_auth_app
from auth_service.settings import AuthSettings
from common.testing import free_port, serve_app
from common.testing.browser import BrowserPage

ROOT = Path(__file__).resolve().parents[2]
API = "/api/v1"
EMAIL = "newcomer@example.com"
PASSWORD = "correct horse battery staple"
REDOCLY_LOGO = "https://cdn.redoc.ly/redoc/logo-mini.svg"
TIMEOUT_MS = 30_000  # a 2-core CI machine parses Swagger UI's 1.5 MB bundle slowly


@dataclass(frozen=True)
class Stack:
    auth: str
    activity: str


@pytest.fixture(scope="module")
async def stack(
    module_clean_database: str, redis_url: str, module_redis_prefix: str
) -> AsyncIterator[Stack]:
    """Auth and activity on loopback; activity's docs sign in at auth, which lets that origin
    call it (what `.env.example` sets up for `make dev`)."""
    shared: dict[str, Any] = {
        "_env_file": None,
        "database_url": module_clean_database,
        "redis_url": redis_url,
        "redis_key_prefix": module_redis_prefix,
        "environment": "test",
        "access_log": False,
        "log_level": "WARNING",
    }
    auth_port = free_port()
    auth_url = f"http://127.0.0.1:{auth_port}"
    activity = create_activity_app(
        ActivitySettings(
            **shared,
            jwks_url=f"{auth_url}/.well-known/jwks.json",
            docs_token_url=f"{auth_url}{API}/auth/token",
        )
    )
    async with serve_app(activity, lifespan=True) as activity_url:
        auth = create_auth_app(AuthSettings(**shared, cors_origins=[activity_url]))
        async with serve_app(auth, lifespan=True, port=auth_port):
            async with httpx.AsyncClient(base_url=auth_url) as client:
                registered = await client.post(
                    f"{API}/auth/register", json={"email": EMAIL, "password": PASSWORD}
                )
                assert registered.status_code == 201, registered.text
            yield Stack(auth=auth_url, activity=activity_url)


def service_url(stack: Stack, service: str) -> str:
    return stack.auth if service == "auth" else stack.activity


async def open_swagger_ui(page: Page, url: str) -> None:
    await page.goto(f"{url}/docs")
    await page.locator("#swagger-ui .opblock").first.wait_for(timeout=TIMEOUT_MS)


async def authorize_dialog(page: Page, url: str) -> None:
    """Swagger UI of the service at `url`, its Authorize dialog open."""
    await open_swagger_ui(page, url)
    await page.locator("button.authorize").first.click()
    await page.locator(".modal-ux .auth-container").first.wait_for()


def scheme_form(page: Page, name: str) -> Locator:
    """The form of the security scheme `name` in the open Authorize dialog."""
    return page.locator(".modal-ux .auth-container").filter(
        has=page.locator("h4", has_text=re.compile(rf"^{name}\b"))
    )


async def try_it_out(page: Page, path: str) -> Response:
    """The answer to "Try it out" and "Execute" on the GET operation at `path`, once Swagger
    UI shows its status."""
    operation = page.locator(f".opblock:has(.opblock-summary-path[data-path='{path}'])")
    await operation.locator(".opblock-summary").click()
    await operation.locator("button.try-out__btn").click()
    async with page.expect_response(lambda r: urlsplit(r.url).path == path) as answer:
        await operation.locator("button.execute").click()
    response = await answer.value
    shown = operation.locator(".live-responses-table tbody .response-col_status")
    assert await shown.text_content() == str(response.status)
    return response


@pytest.mark.parametrize("service", ["auth", "activity"])
class TestOfflineDocs:
    async def test_swagger_ui_renders_from_the_service_itself(
        self, stack: Stack, browser_page: BrowserPage, service: str
    ) -> None:
        url = service_url(stack, service)

        await open_swagger_ui(browser_page.page, url)

        title = await browser_page.page.locator("#swagger-ui .info .title").text_content()
        assert title is not None
        assert title.startswith(f"{service.capitalize()} service")
        browser_page.assert_clean()

    async def test_redoc_renders_from_the_service_itself(
        self, stack: Stack, browser_page: BrowserPage, service: str
    ) -> None:
        url = service_url(stack, service)

        await browser_page.page.goto(f"{url}/redoc")
        heading = browser_page.page.get_by_role(
            "heading", name=re.compile(f"^{service.capitalize()} service")
        )
        await heading.first.wait_for(timeout=TIMEOUT_MS)

        assert await browser_page.page.locator("redoc [data-section-id]").count() > 0
        # ReDoc 2 always shows Redocly's logo from Redocly's CDN (no option turns it off): the
        # page's policy refuses it before it is sent, and ReDoc hides the broken image.
        browser_page.assert_clean(refused=[REDOCLY_LOGO])


class TestAuthorize:
    async def test_user_sign_in_comes_first_on_auth_and_service_clients_last(
        self, stack: Stack, browser_page: BrowserPage
    ) -> None:
        page = browser_page.page
        await authorize_dialog(page, stack.auth)

        titles = await page.locator(".modal-ux .auth-container h4").all_text_contents()
        assert [title.split()[0] for title in titles] == [
            "UserSignIn",
            "AccessToken",
            "ServiceClient",
        ]
        descriptions = page.locator(".modal-ux .auth-container .renderedMarkdown p")
        assert (await descriptions.first.text_content() or "").startswith(
            "User sign-in (e-mail and password)"
        )
        assert (await descriptions.last.text_content() or "").startswith("Service client")
        # The cursor waits in the e-mail field of user sign-in, not in the service client's.
        assert await page.evaluate("document.activeElement.id") == "oauth_username"
        browser_page.assert_clean()

    async def test_password_sign_in_on_activity_gets_a_token_from_auth_and_try_it_out_works(
        self, stack: Stack, browser_page: BrowserPage
    ) -> None:
        page = browser_page.page
        await authorize_dialog(page, stack.activity)
        sign_in = scheme_form(page, "UserSignIn")
        await sign_in.locator("#oauth_username").fill(EMAIL)
        await sign_in.locator("#oauth_password").fill(PASSWORD)

        async with page.expect_response(f"{stack.auth}{API}/auth/token") as token:
            await sign_in.locator("button.authorize").click()
        assert (await token.value).status == 200
        await sign_in.get_by_text("Authorized").wait_for()
        await page.locator(".modal-ux button.close-modal").click()

        answer = await try_it_out(page, f"{API}/activity/me")

        assert answer.status == 200
        assert (await answer.request.all_headers())["authorization"].startswith("Bearer ey")
        assert (await answer.json())["items"] is not None
        browser_page.assert_clean()

    async def test_a_pasted_access_token_is_accepted(
        self, stack: Stack, browser_page: BrowserPage
    ) -> None:
        async with httpx.AsyncClient(base_url=stack.auth) as client:
            login = await client.post(
                f"{API}/auth/login", json={"email": EMAIL, "password": PASSWORD}
            )
        access_token = login.json()["access_token"]
        page = browser_page.page
        await authorize_dialog(page, stack.activity)
        pasted = scheme_form(page, "AccessToken")
        await pasted.locator("input#auth-bearer-value").fill(access_token)
        await pasted.locator("button.authorize").click()
        await page.locator(".modal-ux button.close-modal").click()

        answer = await try_it_out(page, f"{API}/activity/me")

        assert answer.status == 200
        assert (await answer.request.all_headers())["authorization"] == f"Bearer {access_token}"
        browser_page.assert_clean()


def procfile_ports() -> dict[str, int]:
    """The port of each uvicorn process of `make dev` (Procfile.dev), by process name."""
    ports: dict[str, int] = {}
    for line in (ROOT / "Procfile.dev").read_text(encoding="utf-8").splitlines():
        name, _, command = line.partition(":")
        served = re.search(r"\buvicorn\b.*--port (\d+)", command)
        if served:
            ports[name.strip()] = int(served.group(1))
    return ports


class TestDevelopmentStack:
    def test_make_devs_settings_let_every_services_docs_sign_in_at_auth(
        self, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        for name in AuthSettings.model_fields.keys() | ActivitySettings.model_fields.keys():
            monkeypatch.delenv(name.upper(), raising=False)
        auth = AuthSettings(_env_file=ROOT / ".env.example")
        activity = ActivitySettings(_env_file=ROOT / ".env.example")
        ports = procfile_ports()
        others = {name: port for name, port in ports.items() if name != "auth"}

        assert urlsplit(activity.docs_sign_in_url).port == ports["auth"]
        assert auth.docs_sign_in_url == f"{API}/auth/token"
        assert others, ports
        for port in others.values():
            origins = {f"http://localhost:{port}", f"http://127.0.0.1:{port}"}
            assert origins <= set(auth.cors_origins), (port, auth.cors_origins)
