"""The account pages: the mailed links lead to them (ACCOUNT_PAGES_ENABLED), they finish a
password reset or an e-mail verification with plain HTML forms, answer every refusal with the
API's status and code as HTML, and leak the token nowhere. Real worker, SMTP, PostgreSQL and
Redis for the flows from the mail; the worker-side service in-process for the rest."""

from __future__ import annotations

import base64
import hashlib
import re
from dataclasses import dataclass
from html.parser import HTMLParser
from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from auth_service.pages import CONTENT_SECURITY_POLICY
from auth_service.services.account_mail import AccountMailer
from auth_service.services.notifications import AccountMail
from auth_service.settings import AuthSettings
from common.runtime import service_core

from ..conftest import PASSWORD, VERIFY_SUBJECT, Account, MailWaiter, login

API = "/api/v1"
PUBLIC_URL = "http://testserver"  # the test client's base URL: mailed links can be followed
RESET_PAGE = f"{PUBLIC_URL}/account/reset-password"
VERIFY_PAGE = f"{PUBLIC_URL}/account/verify-email"
NEW_PASSWORD = "a brand new passphrase"


@pytest.fixture(scope="module")
def worker_environment() -> dict[str, str]:
    return {"ACCOUNT_PAGES_ENABLED": "true", "PUBLIC_URL": PUBLIC_URL}


@pytest.fixture
def settings_overrides(celery_prefix: str) -> dict[str, Any]:
    # The app queues on the broker prefix the module's worker listens on.
    return {
        "redis_key_prefix": celery_prefix,
        "account_pages_enabled": True,
        "public_url": PUBLIC_URL,
    }


class Page(HTMLParser):
    """What a test reads from a page: attributes by element id, the named form fields and the
    text of `#result`."""

    def __init__(self, response: httpx.Response) -> None:
        super().__init__()
        self.response = response
        self.by_id: dict[str, dict[str, str]] = {}
        self.fields: dict[str, str] = {}
        self.tags: list[tuple[str, dict[str, str]]] = []
        self.styles: list[str] = []
        self.result_text = ""
        self._in: str | None = None
        self.feed(response.text)

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        attributes = {name: value or "" for name, value in attrs}
        self.tags.append((tag, attributes))
        if "id" in attributes:
            self.by_id[attributes["id"]] = {"tag": tag, **attributes}
        if tag == "input" and "name" in attributes:
            self.fields[attributes["name"]] = attributes.get("value", "")
        if tag == "style" or attributes.get("id") == "result":
            self._in = tag if tag == "style" else "result"

    def handle_endtag(self, tag: str) -> None:
        if (tag == "style" and self._in == "style") or (tag == "p" and self._in == "result"):
            self._in = None

    def handle_data(self, data: str) -> None:
        if self._in == "style":
            self.styles.append(data)
        elif self._in == "result":
            self.result_text += data

    @property
    def result(self) -> dict[str, str]:
        return self.by_id["result"]

    def assert_outcome(self, status: int, outcome: str, code: str) -> None:
        assert self.response.status_code == status, (self.response.status_code, self.text)
        assert self.response.headers["content-type"].startswith("text/html")
        assert (self.result["data-outcome"], self.result["data-code"]) == (outcome, code)

    @property
    def text(self) -> str:
        return self.response.text


async def mailed_link(app: FastAPI, settings: AuthSettings, kind: AccountMail, email: str) -> str:
    """The link the worker would mail now (the worker's own service, on the test database)."""
    async with service_core(app).database.sessionmaker() as session:
        delivery = await AccountMailer(session, settings=settings).prepare(kind, email)
    assert delivery is not None
    assert delivery.link is not None
    return delivery.link


def token_of(link: str) -> str:
    match = re.search(r"\?token=([A-Za-z0-9_-]+)$", link)
    assert match, link
    return match.group(1)


@dataclass(frozen=True)
class Mailed:
    account: Account
    link: str

    @property
    def token(self) -> str:
        return token_of(self.link)


@pytest.fixture
async def mailed_reset(app: FastAPI, settings: AuthSettings, register: Any) -> Mailed:
    account = await register(email="page-reset@example.com")
    kind = AccountMail.PASSWORD_RESET
    return Mailed(account, await mailed_link(app, settings, kind, account.email))


@pytest.fixture
async def mailed_verification(app: FastAPI, settings: AuthSettings, register: Any) -> Mailed:
    account = await register(email="page-verify@example.com")
    kind = AccountMail.EMAIL_VERIFICATION
    return Mailed(account, await mailed_link(app, settings, kind, account.email))


async def submit_reset(
    client: httpx.AsyncClient,
    token: str,
    password: str,
    confirm: str | None = None,
    username: str = "",
) -> Page:
    form = {"token": token, "new_password": password, "confirm_password": confirm or password}
    return Page(await client.post(RESET_PAGE, data={**form, "username": username}))


async def reset_succeeds(client: httpx.AsyncClient, token: str) -> None:
    (await submit_reset(client, token, NEW_PASSWORD)).assert_outcome(
        200, "success", "password_reset"
    )


async def submit_verification(client: httpx.AsyncClient, token: str) -> Page:
    return Page(await client.post(VERIFY_PAGE, data={"token": token}))


async def expire_tokens(app: FastAPI, table: str) -> None:
    async with service_core(app).database.engine.begin() as connection:
        await connection.exec_driver_sql(
            f"UPDATE auth.{table} SET expires_at = now() - interval '1 second'"  # noqa: S608 (a constant table name)
        )


class TestMailedLinks:
    @pytest.mark.parametrize(
        ("pages_on", "reset", "verify"),
        [
            (True, RESET_PAGE, VERIFY_PAGE),
            (False, "http://localhost:3000/reset-password", "http://localhost:3000/verify-email"),
        ],
    )
    async def test_point_to_the_pages_while_they_are_on_else_to_the_front_end(
        self,
        *,
        app: FastAPI,
        settings: AuthSettings,
        register: Any,
        pages_on: bool,
        reset: str,
        verify: str,
    ) -> None:
        account = await register(email="links@example.com")
        worker = settings.model_copy(update={"account_pages_enabled": pages_on})

        reset_url = await mailed_link(app, worker, AccountMail.PASSWORD_RESET, account.email)
        verify_url = await mailed_link(app, worker, AccountMail.EMAIL_VERIFICATION, account.email)

        assert reset_url == f"{reset}?token={token_of(reset_url)}"
        assert verify_url == f"{verify}?token={token_of(verify_url)}"


class TestResetPage:
    async def test_the_link_in_the_mail_sets_a_new_password(
        self, client: httpx.AsyncClient, register: Any, mail_waiter: MailWaiter
    ) -> None:
        account = await register(email="page-reset@example.com")
        asked = await client.post(
            f"{API}/auth/password-reset/request", json={"email": account.email}
        )
        assert asked.status_code == 202
        [message] = await mail_waiter(account.email)
        [link] = re.findall(r"https?://\S+", message.get_content())
        assert link.startswith(f"{RESET_PAGE}?token=")

        form = Page(await client.get(link))
        assert form.response.status_code == 200
        assert "result" not in form.by_id
        assert form.by_id["reset-password-form"]["action"] == "/account/reset-password"
        assert form.by_id["reset-password-form"]["method"] == "post"
        assert form.by_id["new-password"]["type"] == "password"
        assert form.by_id["confirm-password"]["type"] == "password"
        assert form.by_id["submit"]["tag"] == "button"
        assert form.fields["token"] == token_of(link)
        assert form.by_id["account-email"]["value"] == account.email
        assert form.by_id["account-email"]["autocomplete"] == "username"
        assert "readonly" in form.by_id["account-email"]

        done = await submit_reset(client, form.fields["token"], NEW_PASSWORD)

        done.assert_outcome(200, "success", "password_reset")
        assert "reset-password-form" not in done.by_id
        assert await login(client, account.email, NEW_PASSWORD) == 200
        assert await login(client, account.email, PASSWORD) == 401

    async def test_opening_the_link_changes_nothing(
        self, client: httpx.AsyncClient, mailed_reset: Mailed
    ) -> None:
        for _ in range(2):
            assert (await client.get(mailed_reset.link)).status_code == 200
        assert await login(client, mailed_reset.account.email, PASSWORD) == 200
        await reset_succeeds(client, mailed_reset.token)

    @pytest.mark.parametrize("query", ["?token=made-up", "?token=", ""])
    async def test_a_made_up_or_missing_token_shows_no_form(
        self, client: httpx.AsyncClient, query: str
    ) -> None:
        page = Page(await client.get(f"{RESET_PAGE}{query}"))
        page.assert_outcome(400, "error", "invalid_reset_token")
        assert "reset-password-form" not in page.by_id

    async def test_an_expired_link_shows_no_form(
        self, app: FastAPI, client: httpx.AsyncClient, mailed_reset: Mailed
    ) -> None:
        await expire_tokens(app, "password_reset_token")

        page = Page(await client.get(mailed_reset.link))
        page.assert_outcome(400, "error", "invalid_reset_token")
        assert "reset-password-form" not in page.by_id
        posted = await submit_reset(client, mailed_reset.token, NEW_PASSWORD)
        posted.assert_outcome(400, "error", "invalid_reset_token")
        assert await login(client, mailed_reset.account.email, PASSWORD) == 200

    async def test_a_used_link_is_refused(
        self, client: httpx.AsyncClient, mailed_reset: Mailed
    ) -> None:
        await reset_succeeds(client, mailed_reset.token)

        Page(await client.get(mailed_reset.link)).assert_outcome(
            400, "error", "invalid_reset_token"
        )
        again = await submit_reset(client, mailed_reset.token, "yet another passphrase")
        again.assert_outcome(400, "error", "invalid_reset_token")
        assert "reset-password-form" not in again.by_id
        assert await login(client, mailed_reset.account.email, NEW_PASSWORD) == 200

    async def test_a_made_up_token_in_the_form_is_refused(self, client: httpx.AsyncClient) -> None:
        page = await submit_reset(client, "made-up", NEW_PASSWORD)
        page.assert_outcome(400, "error", "invalid_reset_token")

    @pytest.mark.parametrize(
        ("password", "confirm", "code", "reason"),
        [
            (NEW_PASSWORD, NEW_PASSWORD + "!", "password_mismatch", "type the same new password"),
            ("short", "short", "weak_password", "at least 12 characters"),
            ("x" * 129, "x" * 129, "validation_error", "at most 128 characters"),
        ],
        ids=["differing", "weak", "oversize"],
    )
    async def test_a_refused_password_shows_why_and_the_form_again_and_the_link_still_works(
        self,
        *,
        client: httpx.AsyncClient,
        mailed_reset: Mailed,
        password: str,
        confirm: str,
        code: str,
        reason: str,
    ) -> None:
        email = mailed_reset.account.email
        page = await submit_reset(client, mailed_reset.token, password, confirm, email)

        page.assert_outcome(422, "error", code)
        assert reason in page.result_text
        assert code in page.result_text
        assert page.fields["token"] == mailed_reset.token
        assert page.fields["username"] == email
        assert page.by_id["new-password"].get("value") is None  # passwords are not echoed
        assert await login(client, mailed_reset.account.email, PASSWORD) == 200
        await reset_succeeds(client, mailed_reset.token)

    async def test_what_the_form_sends_back_is_escaped(self, client: httpx.AsyncClient) -> None:
        sent = '"><script>alert(1)</script>'
        page = await submit_reset(client, sent, NEW_PASSWORD, "different passphrase", sent)

        page.assert_outcome(422, "error", "password_mismatch")
        assert "<script" not in page.text
        assert page.fields["token"] == page.fields["username"] == sent


class TestVerificationPage:
    async def test_the_link_in_the_mail_confirms_the_address_with_a_button(
        self, client: httpx.AsyncClient, register: Any, mail_waiter: MailWaiter
    ) -> None:
        account = await register(email="page-verify@example.com")
        [message] = await mail_waiter(account.email, subject=VERIFY_SUBJECT)
        [link] = re.findall(r"https?://\S+", message.get_content())
        assert link.startswith(f"{VERIFY_PAGE}?token=")

        page = Page(await client.get(link))
        assert page.response.status_code == 200
        assert page.by_id["verify-email-form"]["method"] == "post"
        assert page.by_id["verify-email-form"]["action"] == "/account/verify-email"
        assert page.by_id["submit"]["tag"] == "button"
        assert page.by_id["account-email"]["tag"] == "strong"
        assert f">{account.email}</strong>" in page.text
        me = await client.get(f"{API}/auth/me", headers=account.headers)
        assert me.json()["email_verified"] is False  # opening the link confirms nothing

        done = await submit_verification(client, page.fields["token"])

        done.assert_outcome(200, "success", "email_verified")
        me = await client.get(f"{API}/auth/me", headers=account.headers)
        assert me.json()["email_verified"] is True

    async def test_a_used_link_is_refused(
        self, client: httpx.AsyncClient, mailed_verification: Mailed
    ) -> None:
        first = await submit_verification(client, mailed_verification.token)
        first.assert_outcome(200, "success", "email_verified")

        again = await submit_verification(client, mailed_verification.token)
        again.assert_outcome(400, "error", "invalid_verification_token")
        page = Page(await client.get(mailed_verification.link))
        page.assert_outcome(400, "error", "invalid_verification_token")
        assert "verify-email-form" not in page.by_id

    async def test_an_expired_link_is_refused(
        self, app: FastAPI, client: httpx.AsyncClient, mailed_verification: Mailed
    ) -> None:
        await expire_tokens(app, "email_verification_token")

        page = Page(await client.get(mailed_verification.link))
        page.assert_outcome(400, "error", "invalid_verification_token")
        posted = await submit_verification(client, mailed_verification.token)
        posted.assert_outcome(400, "error", "invalid_verification_token")
        me = await client.get(f"{API}/auth/me", headers=mailed_verification.account.headers)
        assert me.json()["email_verified"] is False

    @pytest.mark.parametrize("token", ["made-up", ""])
    async def test_a_made_up_token_is_refused(self, client: httpx.AsyncClient, token: str) -> None:
        page = Page(await client.get(f"{VERIFY_PAGE}?token={token}"))
        page.assert_outcome(400, "error", "invalid_verification_token")
        posted = await submit_verification(client, token)
        posted.assert_outcome(400, "error", "invalid_verification_token")


class TestSecurityHeaders:
    async def test_every_answer_keeps_the_token_to_itself(
        self, client: httpx.AsyncClient, mailed_reset: Mailed, mailed_verification: Mailed
    ) -> None:
        answers = [
            await client.get(mailed_reset.link),
            await client.get(f"{RESET_PAGE}?token=made-up"),
            await client.post(RESET_PAGE, data={"token": mailed_reset.token}),
            (await submit_reset(client, mailed_reset.token, NEW_PASSWORD)).response,
            await client.get(mailed_verification.link),
            (await submit_verification(client, "made-up")).response,
        ]
        for response in answers:
            headers = response.headers
            assert headers["content-security-policy"] == CONTENT_SECURITY_POLICY
            assert headers["referrer-policy"] == "no-referrer"
            assert headers["cache-control"] == "no-store"
            assert headers["x-frame-options"] == "DENY"
            assert headers["x-content-type-options"] == "nosniff"
            assert "set-cookie" not in headers
            page = Page(response)
            # Nothing to load or leave to: no script, image, frame, link or absolute URL.
            assert {tag for tag, _ in page.tags} <= {
                *("html", "head", "meta", "title", "style", "body", "main", "h1", "p"),
                *("form", "input", "label", "button", "small", "code", "strong"),
            }
            assert not re.search(r"\b(src|href)=|https?:|//", response.text)
            assert all(not action.startswith("http") for action in form_actions(page))

    async def test_the_policy_allows_the_pages_own_style_and_nothing_else(
        self, client: httpx.AsyncClient
    ) -> None:
        page = Page(await client.get(f"{RESET_PAGE}?token=made-up"))
        [style] = page.styles
        digest = base64.b64encode(hashlib.sha256(style.encode()).digest()).decode()
        directives = dict(
            directive.strip().split(" ", 1)
            for directive in page.response.headers["content-security-policy"].split(";")
        )
        assert directives == {
            "default-src": "'none'",
            "style-src": f"'sha256-{digest}'",
            "form-action": "'self'",
            "base-uri": "'none'",
            "frame-ancestors": "'none'",
        }

    async def test_the_api_keeps_its_own_policy(self, client: httpx.AsyncClient) -> None:
        response = await client.get("/health")
        assert response.headers["content-security-policy"] == (
            "default-src 'none'; frame-ancestors 'none'"
        )


def form_actions(page: Page) -> list[str]:
    return [attrs["action"] for tag, attrs in page.tags if tag == "form"]


class TestPagesOff:
    @pytest.fixture
    def settings_overrides(self) -> dict[str, Any]:
        return {"account_pages_enabled": False}

    @pytest.mark.parametrize("method", ["GET", "POST"])
    @pytest.mark.parametrize("path", ["/account/reset-password", "/account/verify-email"])
    async def test_the_pages_are_not_there(
        self, client: httpx.AsyncClient, method: str, path: str
    ) -> None:
        response = await client.request(method, f"{path}?token=anything")
        assert response.status_code == 404
        assert response.json()["error"]["code"] == "not_found"
