"""Throttles that hold under bursts: every attempt reserves its place before any work is done,
so N requests in flight at once (over real connections) cannot all pass a check made before any
of them was counted. Each burst is repeated so that a race would show."""

from __future__ import annotations

import asyncio
from collections import Counter
from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from auth_service.services.revocations import AccessRevocations
from auth_service.services.service_clients import ServiceClientAdmin
from common.runtime import service_core
from common.testing import assert_error

from ..conftest import Account
from ..test_audit import events

API = "/api/v1"
ROUNDS = 3
PER_ACCOUNT = 5
PER_IP = 12


@pytest.fixture
def settings_overrides() -> dict[str, Any]:
    return {
        "login_max_failures_per_account": PER_ACCOUNT,
        "login_max_failures_per_ip": PER_IP,
        "password_reset_max_per_hour": 3,
        "registration_max_per_ip": 5,
        "client_credentials_max_failures_per_ip": 4,
        "trusted_proxies": "127.0.0.1",
    }


def from_address(ip: str) -> dict[str, str]:
    """Requests reach the app from 127.0.0.1, a trusted proxy here: this header says who the
    client is."""
    return {"X-Forwarded-For": ip}


def statuses(responses: list[httpx.Response]) -> Counter[int]:
    return Counter(r.status_code for r in responses)


class TestLoginBurst:
    async def test_forty_guesses_at_once_get_five_tries(
        self, live: httpx.AsyncClient, register: Any
    ) -> None:
        for round_ in range(ROUNDS):
            account: Account = await register(email=f"burst{round_}@example.com")
            guesses = [f"wrong guess number {i}" for i in range(39)] + [account.password]
            responses = await asyncio.gather(
                *(
                    live.post(
                        f"{API}/auth/login",
                        json={"email": account.email, "password": guess},
                        headers=from_address(f"198.51.100.{round_}"),
                    )
                    for guess in guesses
                )
            )
            counts = statuses(responses)
            assert set(counts) <= {200, 401, 429}, counts
            assert counts[200] + counts[401] == PER_ACCOUNT, counts
            assert counts[429] == 40 - PER_ACCOUNT

    async def test_a_burst_from_one_address_gets_its_limit_across_accounts(
        self, live: httpx.AsyncClient
    ) -> None:
        for round_ in range(ROUNDS):
            responses = await asyncio.gather(
                *(
                    live.post(
                        f"{API}/auth/login",
                        json={"email": f"spray{round_}-{i}@example.com", "password": "spray it"},
                        headers=from_address(f"203.0.113.{round_}"),
                    )
                    for i in range(40)
                )
            )
            counts = statuses(responses)
            assert counts == Counter({401: PER_IP, 429: 40 - PER_IP}), counts

    async def test_an_ipv6_client_is_counted_per_64(self, client: httpx.AsyncClient) -> None:
        for i in range(PER_IP):
            failed = await client.post(
                f"{API}/auth/login",
                json={"email": f"v6-{i}@example.com", "password": "spray it"},
                headers=from_address(f"2001:db8:1:2::{i + 1:x}"),
            )
            assert failed.status_code == 401
        neighbour = await client.post(
            f"{API}/auth/login",
            json={"email": "v6-last@example.com", "password": "spray it"},
            headers=from_address("2001:db8:1:2:ffff::1"),
        )
        assert neighbour.status_code == 429
        elsewhere = await client.post(
            f"{API}/auth/login",
            json={"email": "v6-last@example.com", "password": "spray it"},
            headers=from_address("2001:db8:1:3::1"),
        )
        assert elsewhere.status_code == 401

    async def test_throttled_attempts_are_audited_once_per_window(
        self, client: httpx.AsyncClient, app: FastAPI
    ) -> None:
        for _ in range(PER_ACCOUNT + 20):
            await client.post(
                f"{API}/auth/login",
                json={"email": "flood@example.com", "password": "not it at all"},
                headers=from_address("192.0.2.50"),
            )
        logins = await events(app, "auth.user.login")
        reasons = Counter(e.metadata["reason"] for e in logins)
        assert reasons == Counter({"unknown_email": PER_ACCOUNT, "throttled": 1})
        metrics = await client.get("/metrics")
        assert 'auth_throttled_attempts_total{limit="login-account"} 20.0' in metrics.text


class TestPasswordChangeBurst:
    async def test_twenty_wrong_current_passwords_at_once_get_five_tries(
        self, live: httpx.AsyncClient, register: Any
    ) -> None:
        for round_ in range(ROUNDS):
            account: Account = await register(email=f"change{round_}@example.com")
            responses = await asyncio.gather(
                *(
                    live.put(
                        f"{API}/auth/me/password",
                        json={
                            "current_password": f"wrong current {i}",
                            "new_password": "a brand new passphrase",
                        },
                        headers={**account.headers, **from_address(f"192.0.2.{round_ + 1}")},
                    )
                    for i in range(20)
                )
            )
            counts = statuses(responses)
            assert counts == Counter({400: PER_ACCOUNT, 429: 20 - PER_ACCOUNT}), counts


class TestResetBurst:
    async def test_twenty_five_requests_at_once_queue_three_mails(
        self, live: httpx.AsyncClient, app: FastAPI, register: Any
    ) -> None:
        """A mail is queued only for a request the cap let through; the others are recorded
        as rate-limited and answered the same."""
        for round_ in range(ROUNDS):
            account: Account = await register(email=f"reset{round_}@example.com")
            responses = await asyncio.gather(
                *(
                    live.post(
                        f"{API}/auth/password-reset/request",
                        json={"email": account.email},
                        headers=from_address(f"198.51.100.{100 + i}"),
                    )
                    for i in range(25)
                )
            )
            assert statuses(responses) == Counter({202: 25})
            requested = [
                e
                for e in await events(app, "auth.password.reset_requested")
                if e.metadata["email"] == account.email
            ]
            allowed = [e for e in requested if "reason" not in e.metadata]
            assert (len(requested), len(allowed)) == (25, 3)


class TestRegistrationBurst:
    async def test_one_address_gets_its_limit_of_sign_ups(
        self, live: httpx.AsyncClient, password: str
    ) -> None:
        for round_ in range(ROUNDS):
            responses = await asyncio.gather(
                *(
                    live.post(
                        f"{API}/auth/register",
                        json={"email": f"signup{round_}-{i}@example.com", "password": password},
                        headers=from_address(f"192.0.2.{100 + round_}"),
                    )
                    for i in range(20)
                )
            )
            assert statuses(responses) == Counter({201: 5, 429: 15}), statuses(responses)


class TestClientCredentialsBurst:
    async def test_failed_secrets_are_limited_per_address(
        self, live: httpx.AsyncClient, app: FastAPI
    ) -> None:
        async with service_core(app).database.sessionmaker() as session:
            clients = ServiceClientAdmin(session, revocations=AccessRevocations())
            _, secret = await clients.create(name="billing", permissions=["users:read"])
        responses = await asyncio.gather(
            *(
                live.post(
                    f"{API}/auth/token",
                    data={
                        "grant_type": "client_credentials",
                        "client_id": "billing",
                        "client_secret": f"guess-{i}",
                    },
                    headers=from_address("198.51.100.200"),
                )
                for i in range(20)
            )
        )
        assert statuses(responses) == Counter({401: 4, 429: 16})
        elsewhere = await live.post(
            f"{API}/auth/token",
            data={
                "grant_type": "client_credentials",
                "client_id": "billing",
                "client_secret": secret,
            },
            headers=from_address("198.51.100.201"),
        )
        assert elsewhere.status_code == 200


class TestClientAddress:
    async def test_a_forged_forwarded_address_is_not_stored_or_a_500(
        self, client: httpx.AsyncClient, app: FastAPI
    ) -> None:
        response = await client.post(
            f"{API}/auth/login",
            json={"email": "nobody@example.com", "password": "whatever it is"},
            headers=from_address("x" * 100),
        )
        assert response.status_code == 401
        [failure] = await events(app, "auth.user.login")
        # Unknown: neither the forged text nor the proxy's own address.
        assert failure.actor.ip is None


class TestHashingQueue:
    @pytest.fixture
    def settings_overrides(self) -> dict[str, Any]:
        return {
            "password_hash_concurrency": 1,
            "password_hash_max_waiting": 2,
            "registration_max_per_ip": 1000,
            "login_max_failures_per_account": PER_ACCOUNT,
            "trusted_proxies": "127.0.0.1",
        }

    async def test_a_burst_beyond_the_queue_is_shed_with_429_not_queued(
        self, live: httpx.AsyncClient, password: str
    ) -> None:
        responses = await asyncio.gather(
            *(
                live.post(
                    f"{API}/auth/register",
                    json={"email": f"queued{i}@example.com", "password": password},
                )
                for i in range(12)
            )
        )
        counts = statuses(responses)
        assert set(counts) == {201, 429}, counts
        for shed in (r for r in responses if r.status_code == 429):
            assert_error(shed, 429, "server_busy")
            assert shed.headers["retry-after"] == "1"

    async def test_a_shed_login_does_not_count_as_a_failure(
        self, live: httpx.AsyncClient, register: Any
    ) -> None:
        account: Account = await register()
        responses = await asyncio.gather(
            *(
                live.post(
                    f"{API}/auth/login",
                    json={"email": account.email, "password": f"wrong guess {n}"},
                )
                for n in range(PER_ACCOUNT)
            )
        )
        counts = statuses(responses)
        checked, shed = counts[401], [r for r in responses if r.status_code == 429]
        assert checked + len(shed) == PER_ACCOUNT, counts
        assert shed, counts
        assert checked < PER_ACCOUNT, counts
        for response in shed:
            assert_error(response, 429, "server_busy")
        # Only the guesses that were checked count: the shed ones did not lock the account.
        login = await live.post(
            f"{API}/auth/login", json={"email": account.email, "password": account.password}
        )
        assert login.status_code == 200, login.text
