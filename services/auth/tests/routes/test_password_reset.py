"""Password reset end to end: API -> Celery (real worker, real Redis) -> SMTP (real server)."""

from __future__ import annotations

import re
from email.message import EmailMessage
from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from common.runtime import service_core
from common.testing import assert_error

from ..conftest import MailWaiter
from ..test_audit import events

API = "/api/v1"


@pytest.fixture
def settings_overrides(celery_prefix: str) -> dict[str, Any]:
    # The app queues on the broker prefix the module's worker listens on.
    return {"redis_key_prefix": celery_prefix}


def token_from(message: EmailMessage) -> str:
    body = message.get_content()
    match = re.search(r"token=([A-Za-z0-9_-]+)", body)
    assert match, body
    return match.group(1)


async def request_reset(client: httpx.AsyncClient, email: str) -> httpx.Response:
    return await client.post(f"{API}/auth/password-reset/request", json={"email": email})


class TestRequestReset:
    async def test_mails_a_one_time_link(
        self, client: httpx.AsyncClient, register: Any, mail_waiter: MailWaiter, app: FastAPI
    ) -> None:
        account = await register(email="reset-link@example.com")
        response = await request_reset(client, account.email)
        assert response.status_code == 202
        [message] = await mail_waiter(account.email)
        assert message["Subject"] == "Reset your password"
        assert "http://localhost:3000/reset-password?token=" in message.get_content()
        [mailed] = await events(app, "auth.password.reset_mailed")
        assert mailed.resource is not None
        assert mailed.resource.id == account.id

    async def test_unknown_address_gets_the_same_answer_and_no_mail(
        self,
        client: httpx.AsyncClient,
        register: Any,
        mail_waiter: MailWaiter,
        smtp_server: tuple[Any, int],
    ) -> None:
        known = await register(email="reset-known@example.com")
        for_unknown = await request_reset(client, "reset-nobody@example.com")
        for_known = await request_reset(client, known.email)
        assert for_known.status_code == for_unknown.status_code == 202
        assert for_known.json() == for_unknown.json()
        # One worker takes the queue in order: had a mail been queued for the unknown address
        # (asked first), it would have been delivered before the known one's.
        await mail_waiter(known.email)
        assert smtp_server[0].to("reset-nobody@example.com") == []

    async def test_repeated_requests_are_capped_silently(
        self, client: httpx.AsyncClient, register: Any, mail_waiter: MailWaiter
    ) -> None:
        account = await register(email="reset-capped@example.com")
        responses = [await request_reset(client, account.email) for _ in range(5)]
        assert {r.status_code for r in responses} == {202}
        messages = await mail_waiter(account.email, count=3)
        assert len(messages) == 3

    async def test_malformed_address_is_422(self, client: httpx.AsyncClient) -> None:
        response = await request_reset(client, "not an address")
        assert_error(response, 422, "validation_error")


class TestConfirmReset:
    async def test_sets_the_password_and_ends_every_session(
        self, client: httpx.AsyncClient, register: Any, mail_waiter: MailWaiter
    ) -> None:
        account = await register(email="reset-confirm@example.com")
        await request_reset(client, account.email)
        [message] = await mail_waiter(account.email)
        new_password = "my fresh reset passphrase"
        response = await client.post(
            f"{API}/auth/password-reset/confirm",
            json={"token": token_from(message), "new_password": new_password},
        )
        assert response.status_code == 204
        session = await client.post(
            f"{API}/auth/refresh", json={"refresh_token": account.refresh_token}
        )
        assert session.status_code == 401
        login = await client.post(
            f"{API}/auth/login", json={"email": account.email, "password": new_password}
        )
        assert login.status_code == 200

    async def test_a_token_works_once(
        self, client: httpx.AsyncClient, register: Any, mail_waiter: MailWaiter
    ) -> None:
        account = await register(email="reset-once@example.com")
        await request_reset(client, account.email)
        token = token_from((await mail_waiter(account.email))[0])
        body = {"token": token, "new_password": "first new passphrase"}
        first = await client.post(f"{API}/auth/password-reset/confirm", json=body)
        assert first.status_code == 204
        body["new_password"] = "second new passphrase"
        second = await client.post(f"{API}/auth/password-reset/confirm", json=body)
        assert_error(second, 400, "invalid_reset_token")

    async def test_an_expired_token_is_refused(
        self, client: httpx.AsyncClient, register: Any, mail_waiter: MailWaiter, app: FastAPI
    ) -> None:
        account = await register(email="reset-expired@example.com")
        await request_reset(client, account.email)
        token = token_from((await mail_waiter(account.email))[0])
        async with service_core(app).database.engine.begin() as connection:
            await connection.exec_driver_sql(
                "UPDATE auth.password_reset_token SET expires_at = now() - interval '1 second'"
            )
        response = await client.post(
            f"{API}/auth/password-reset/confirm",
            json={"token": token, "new_password": "too late passphrase"},
        )
        assert_error(response, 400, "invalid_reset_token")

    async def test_a_weak_password_leaves_the_token_usable(
        self, client: httpx.AsyncClient, register: Any, mail_waiter: MailWaiter
    ) -> None:
        account = await register(email="reset-weak@example.com")
        await request_reset(client, account.email)
        token = token_from((await mail_waiter(account.email))[0])
        weak = await client.post(
            f"{API}/auth/password-reset/confirm", json={"token": token, "new_password": "short"}
        )
        assert_error(weak, 422, "weak_password")
        strong = await client.post(
            f"{API}/auth/password-reset/confirm",
            json={"token": token, "new_password": "a long enough passphrase"},
        )
        assert strong.status_code == 204

    async def test_a_made_up_token_is_refused(self, client: httpx.AsyncClient) -> None:
        response = await client.post(
            f"{API}/auth/password-reset/confirm",
            json={"token": "made-up", "new_password": "whatever passphrase"},
        )
        assert_error(response, 400, "invalid_reset_token")
