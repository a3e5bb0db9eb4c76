"""The account pages in a real browser, as a person finishes the flows from a mail: headless
Chromium with the network off (`common.testing.browser`), auth served by uvicorn at the
PUBLIC_URL the links point to, the links taken from what a real Celery worker mailed to a real
SMTP server, and the outcome checked through the API. The HTTP-level cases (every refusal,
the headers) are in `test_pages.py`."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from playwright.async_api import Page

from auth_service.settings import RESET_PAGE, VERIFICATION_PAGE
from common.testing import free_port, serve_app
from common.testing.browser import BrowserPage

from ..conftest import PASSWORD, VERIFY_SUBJECT, Account, MailWaiter, Register, login

API = "/api/v1"
NEW_PASSWORD = "a brand new passphrase"


@pytest.fixture(scope="module")
def port() -> int:
    return free_port()


@pytest.fixture(scope="module")
def public_url(port: int) -> str:
    return f"http://127.0.0.1:{port}"


@pytest.fixture(scope="module")
def worker_environment(public_url: str) -> dict[str, str]:
    return {"ACCOUNT_PAGES_ENABLED": "true", "PUBLIC_URL": public_url}


@pytest.fixture
def settings_overrides(celery_prefix: str, public_url: str) -> dict[str, Any]:
    # The app queues on the broker prefix the module's worker listens on.
    return {
        "redis_key_prefix": celery_prefix,
        "account_pages_enabled": True,
        "public_url": public_url,
    }


@pytest.fixture
async def client(app: FastAPI, port: int) -> AsyncIterator[httpx.AsyncClient]:
    """The API of the app the browser uses, served at PUBLIC_URL (`register` calls it too)."""
    async with serve_app(app, port=port) as url, httpx.AsyncClient(base_url=url) as http:
        yield http


@dataclass(frozen=True)
class Auth:
    """Auth as the person in the browser meets it: at `url`, its API and what it mails."""

    url: str
    api: httpx.AsyncClient
    register: Register
    mail_waiter: MailWaiter

    async def mailed_link(self, email: str, page: str, **match: Any) -> str:
        """The one link in the mail `email` got (`match`: which mail), checked to lead to
        the account page `page` with a token."""
        [message] = await self.mail_waiter(email, **match)
        links: list[str] = re.findall(r"https?://\S+", message.get_content())
        [link] = links
        assert re.fullmatch(rf"{re.escape(self.url + page)}\?token=[\w-]+", link), link
        return link

    async def login(self, email: str, password: str) -> int:
        return await login(self.api, email, password)

    async def email_verified(self, account: Account) -> bool:
        me = await self.api.get(f"{API}/auth/me", headers=account.headers)
        assert me.status_code == 200, me.text
        return me.json()["email_verified"] is True


@pytest.fixture
def auth(
    public_url: str, client: httpx.AsyncClient, register: Register, mail_waiter: MailWaiter
) -> Auth:
    return Auth(public_url, client, register, mail_waiter)


async def shown(page: Page, selector: str) -> None:
    await page.locator(selector).wait_for()


class TestPasswordResetPage:
    async def test_the_mailed_link_sets_a_new_password_once(
        self, auth: Auth, browser_page: BrowserPage
    ) -> None:
        account = await auth.register(email="browser-reset@example.com")
        asked = await auth.api.post(
            f"{API}/auth/password-reset/request", json={"email": account.email}
        )
        assert asked.status_code == 202
        link = await auth.mailed_link(account.email, RESET_PAGE)
        page = browser_page.page

        opened = await page.goto(link)
        assert opened is not None
        assert opened.status == 200
        await shown(page, "#reset-password-form")
        assert await page.locator("#account-email").input_value() == account.email
        # The page's one style applies: its Content-Security-Policy allows it by its hash.
        assert await page.evaluate("getComputedStyle(document.body).maxWidth") == "512px"

        await page.fill("#new-password", NEW_PASSWORD)
        await page.fill("#confirm-password", f"{NEW_PASSWORD}!")
        await page.click("#submit")
        await shown(page, "#result[data-outcome=error][data-code=password_mismatch]")
        await shown(page, "#reset-password-form")
        assert await page.locator("#account-email").input_value() == account.email
        assert await page.locator("#new-password").input_value() == ""

        await page.fill("#new-password", NEW_PASSWORD)
        await page.fill("#confirm-password", NEW_PASSWORD)
        await page.click("#submit")
        await shown(page, "#result[data-outcome=success][data-code=password_reset]")
        assert await page.locator("#reset-password-form").count() == 0

        assert await auth.login(account.email, NEW_PASSWORD) == 200
        assert await auth.login(account.email, PASSWORD) == 401

        await page.goto(link)
        await shown(page, "#result[data-outcome=error][data-code=invalid_reset_token]")
        assert await page.locator("#reset-password-form").count() == 0
        assert await auth.login(account.email, NEW_PASSWORD) == 200

        # The two refusals come with the API's status on purpose: nothing else failed.
        browser_page.assert_clean(
            error_answers=[f"POST {auth.url}{RESET_PAGE}: 422", f"GET {link}: 400"]
        )


class TestVerificationPage:
    async def test_the_mailed_link_confirms_the_address_with_the_button(
        self, auth: Auth, browser_page: BrowserPage
    ) -> None:
        account = await auth.register(email="browser-verify@example.com")
        link = await auth.mailed_link(account.email, VERIFICATION_PAGE, subject=VERIFY_SUBJECT)
        page = browser_page.page

        await page.goto(link)
        await shown(page, "#verify-email-form")
        assert await page.locator("#account-email").text_content() == account.email
        assert not await auth.email_verified(account)  # opening the link confirms nothing

        await page.click("#submit")
        await shown(page, "#result[data-outcome=success][data-code=email_verified]")

        assert await auth.email_verified(account)
        browser_page.assert_clean()
