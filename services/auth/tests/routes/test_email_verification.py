"""E-mail verification end to end: API -> Celery (real worker, real Redis) -> SMTP (real
server), with and without REQUIRE_EMAIL_VERIFICATION."""

from __future__ import annotations

import re
from email.message import EmailMessage
from typing import Any

import httpx
import jwt
import pytest

from common.testing import assert_error

from ..conftest import PASSWORD, VERIFY_SUBJECT, MailWaiter

API = "/api/v1"
ATTEMPT_SUBJECT = "Someone tried to register with your address"


@pytest.fixture
def settings_overrides(celery_prefix: str) -> dict[str, Any]:
    # The app queues on the broker prefix the module's worker listens on.
    return {"redis_key_prefix": celery_prefix}


def token_from(message: EmailMessage) -> str:
    match = re.search(r"token=([A-Za-z0-9_-]+)", message.get_content())
    assert match, message.get_content()
    return match.group(1)


async def verification_link(mail_waiter: MailWaiter, address: str, count: int = 1) -> str:
    messages = await mail_waiter(address, count=count, subject=VERIFY_SUBJECT)
    assert "http://localhost:3000/verify-email?token=" in messages[-1].get_content()
    return token_from(messages[-1])


async def confirm(client: httpx.AsyncClient, token: str) -> httpx.Response:
    return await client.post(f"{API}/auth/verify-email/confirm", json={"token": token})


class TestVerification:
    async def test_registration_mails_a_link_that_verifies_the_address(
        self, client: httpx.AsyncClient, register: Any, mail_waiter: MailWaiter
    ) -> None:
        account = await register(email="verify-me@example.com")
        me = await client.get(f"{API}/auth/me", headers=account.headers)
        assert me.json()["email_verified"] is False
        claims = jwt.decode(account.access_token, options={"verify_signature": False})
        assert claims["email_verified"] is False

        confirmed = await confirm(client, await verification_link(mail_waiter, account.email))

        assert confirmed.status_code == 204
        me = await client.get(f"{API}/auth/me", headers=account.headers)
        assert me.json()["email_verified"] is True
        login = await client.post(
            f"{API}/auth/login", json={"email": account.email, "password": PASSWORD}
        )
        claims = jwt.decode(login.json()["access_token"], options={"verify_signature": False})
        assert claims["email_verified"] is True

    async def test_a_link_works_once(
        self, client: httpx.AsyncClient, register: Any, mail_waiter: MailWaiter
    ) -> None:
        account = await register(email="verify-once@example.com")
        token = await verification_link(mail_waiter, account.email)
        assert (await confirm(client, token)).status_code == 204
        assert_error(await confirm(client, token), 400, "invalid_verification_token")

    async def test_a_made_up_token_is_refused(self, client: httpx.AsyncClient) -> None:
        assert_error(await confirm(client, "made-up"), 400, "invalid_verification_token")

    async def test_a_new_link_can_be_asked_for_with_one_answer_for_every_address(
        self,
        client: httpx.AsyncClient,
        register: Any,
        mail_waiter: MailWaiter,
        smtp_server: tuple[Any, int],
    ) -> None:
        account = await register(email="verify-again@example.com")
        await verification_link(mail_waiter, account.email)
        for_unknown = await client.post(
            f"{API}/auth/verify-email/request", json={"email": "verify-nobody@example.com"}
        )
        for_known = await client.post(
            f"{API}/auth/verify-email/request", json={"email": account.email}
        )
        assert for_known.status_code == for_unknown.status_code == 202
        assert for_known.json() == for_unknown.json()
        second = await verification_link(mail_waiter, account.email, count=2)
        assert (await confirm(client, second)).status_code == 204
        assert smtp_server[0].to("verify-nobody@example.com") == []

    async def test_a_verified_address_is_not_mailed_again(
        self,
        client: httpx.AsyncClient,
        register: Any,
        mail_waiter: MailWaiter,
        smtp_server: tuple[Any, int],
    ) -> None:
        verified = await register(email="verified@example.com")
        await confirm(client, await verification_link(mail_waiter, verified.email))
        await client.post(f"{API}/auth/verify-email/request", json={"email": verified.email})
        # One worker takes the queue in order: a later address's mail proves the earlier
        # request was handled.
        marker = await register(email="verify-marker@example.com")
        await verification_link(mail_waiter, marker.email)
        assert len(smtp_server[0].to(verified.email, VERIFY_SUBJECT)) == 1

    async def test_registration_still_tells_existing_addresses_apart(
        self, client: httpx.AsyncClient, register: Any
    ) -> None:
        """Without REQUIRE_EMAIL_VERIFICATION (the README says so)."""
        account = await register(email="taken@example.com")
        again = await client.post(
            f"{API}/auth/register", json={"email": account.email, "password": PASSWORD}
        )
        assert_error(again, 409, "email_taken")


class TestRequiredVerification:
    @pytest.fixture
    def settings_overrides(self, celery_prefix: str) -> dict[str, Any]:
        return {"redis_key_prefix": celery_prefix, "require_email_verification": True}

    async def test_sign_in_waits_for_the_link(
        self, client: httpx.AsyncClient, mail_waiter: MailWaiter
    ) -> None:
        email = "must-verify@example.com"
        created = await client.post(
            f"{API}/auth/register", json={"email": email, "password": PASSWORD}
        )
        assert created.status_code == 202
        refused = await client.post(
            f"{API}/auth/login", json={"email": email, "password": PASSWORD}
        )
        assert_error(refused, 403, "email_not_verified")
        wrong = await client.post(
            f"{API}/auth/login", json={"email": email, "password": "not the password!"}
        )
        assert_error(wrong, 401, "invalid_credentials")

        await confirm(client, await verification_link(mail_waiter, email))

        login = await client.post(f"{API}/auth/login", json={"email": email, "password": PASSWORD})
        assert login.status_code == 200

    async def test_registration_answers_the_same_for_an_existing_address_and_tells_its_owner(
        self, client: httpx.AsyncClient, mail_waiter: MailWaiter
    ) -> None:
        owner = "owner@example.com"
        first = await client.post(
            f"{API}/auth/register", json={"email": owner, "password": PASSWORD}
        )
        second = await client.post(
            f"{API}/auth/register",
            json={"email": owner.upper(), "password": "an intruder's passphrase"},
        )
        assert first.status_code == second.status_code == 202
        assert first.json() == second.json()
        [notice] = await mail_waiter(owner, subject=ATTEMPT_SUBJECT)
        assert "already has one" in notice.get_content()
        await confirm(client, await verification_link(mail_waiter, owner))
        login = await client.post(f"{API}/auth/login", json={"email": owner, "password": PASSWORD})
        assert login.status_code == 200

    async def test_registering_someone_elses_address_over_and_over_mails_them_three_times(
        self,
        client: httpx.AsyncClient,
        mail_waiter: MailWaiter,
        smtp_server: tuple[Any, int],
    ) -> None:
        owner = "much-tried@example.com"
        await client.post(f"{API}/auth/register", json={"email": owner, "password": PASSWORD})
        for _ in range(6):
            again = await client.post(
                f"{API}/auth/register", json={"email": owner, "password": PASSWORD}
            )
            assert again.status_code == 202
        await mail_waiter(owner, count=3, subject=ATTEMPT_SUBJECT)
        # One worker takes the queue in order: a later address's mail proves the rest were
        # handled.
        await client.post(
            f"{API}/auth/register", json={"email": "tried-marker@example.com", "password": PASSWORD}
        )
        await verification_link(mail_waiter, "tried-marker@example.com")
        assert len(smtp_server[0].to(owner, ATTEMPT_SUBJECT)) == 3
