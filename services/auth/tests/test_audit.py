"""Every security-relevant action of the auth service leaves an audit event in its outbox, in
the transaction of the change; no event ever carries a password or a token."""

from __future__ import annotations

import uuid
from typing import Any

import httpx
import jwt
import pytest
from fastapi import FastAPI
from sqlalchemy import select

from auth_service.models import AuditOutbox
from auth_service.runtime import AuthRuntime
from auth_service.services.revocations import AccessRevocations
from auth_service.services.service_clients import ServiceClientAdmin
from auth_service.services.signing_keys import SigningKeyService
from common.audit import AuditEvent
from common.runtime import service_core, service_runtime

from .conftest import sign_in

API = "/api/v1"


async def events(app: FastAPI, action: str | None = None) -> list[AuditEvent]:
    async with service_core(app).database.sessionmaker() as session:
        rows = await session.scalars(select(AuditOutbox.payload).order_by(AuditOutbox.id))
        found = [AuditEvent.from_json(row) for row in rows]
    return [e for e in found if action is None or e.action == action]


async def payloads(app: FastAPI) -> str:
    async with service_core(app).database.sessionmaker() as session:
        return "\n".join(await session.scalars(select(AuditOutbox.payload)))


class TestRegistration:
    async def test_records_the_new_account(
        self, app: FastAPI, client: httpx.AsyncClient, password: str
    ) -> None:
        response = await client.post(
            f"{API}/auth/register",
            json={"email": "new@example.com", "password": password},
            headers={"User-Agent": "tests/1.0", "X-Request-ID": "reg-1"},
        )
        user_id = response.json()["id"]

        [event] = await events(app, "auth.user.registered")
        assert event.service == "auth"
        assert event.outcome == "success"
        assert (event.actor.type, event.actor.id) == ("user", user_id)
        assert event.actor.ip == "127.0.0.1"
        assert event.actor.user_agent == "tests/1.0"
        assert event.resource is not None
        assert (event.resource.type, event.resource.id) == ("user", user_id)
        assert event.request_id == "reg-1"
        assert password not in await payloads(app)

    async def test_a_refused_registration_leaves_no_event(
        self, app: FastAPI, client: httpx.AsyncClient, register: Any, password: str
    ) -> None:
        account = await register()
        before = await events(app, "auth.user.registered")

        again = await client.post(
            f"{API}/auth/register", json={"email": account.email, "password": password}
        )

        assert again.status_code == 409
        assert await events(app, "auth.user.registered") == before


class TestLogin:
    async def test_success_names_the_user_and_the_session(
        self, app: FastAPI, register: Any
    ) -> None:
        account = await register()

        [event] = await events(app, "auth.user.login")
        sid = jwt.decode(account.access_token, options={"verify_signature": False})["sid"]
        assert event.outcome == "success"
        assert event.actor.id == account.id
        assert event.metadata == {"session_id": sid}

    @pytest.mark.parametrize(
        ("email", "reason"),
        [("user1@example.com", "wrong_password"), ("nobody@example.com", "unknown_email")],
    )
    async def test_failures_carry_only_the_attempted_email(
        self, app: FastAPI, client: httpx.AsyncClient, register: Any, email: str, reason: str
    ) -> None:
        await register(email="user1@example.com")

        await client.post(
            f"{API}/auth/login", json={"email": email, "password": "a wrong passphrase"}
        )

        [failure] = [e for e in await events(app, "auth.user.login") if e.outcome == "failure"]
        assert failure.actor.type == "anonymous"
        assert failure.actor.id is None
        assert failure.resource is None
        assert failure.metadata == {"email": email, "reason": reason}
        assert "a wrong passphrase" not in await payloads(app)


class TestLoginThrottled:
    @pytest.fixture
    def settings_overrides(self) -> dict[str, Any]:
        return {"login_max_failures_per_account": 1}

    async def test_a_throttled_attempt_is_recorded(
        self, app: FastAPI, client: httpx.AsyncClient
    ) -> None:
        body = {"email": "ghost@example.com", "password": "a wrong passphrase"}
        await client.post(f"{API}/auth/login", json=body)
        throttled = await client.post(f"{API}/auth/login", json=body)

        assert throttled.status_code == 429
        reasons = [e.metadata["reason"] for e in await events(app, "auth.user.login")]
        assert reasons == ["unknown_email", "throttled"]


class TestSessions:
    async def test_logout_and_logout_all(
        self, app: FastAPI, client: httpx.AsyncClient, register: Any
    ) -> None:
        account = await register()
        other = await sign_in(client, account.email, account.password)
        await client.post(f"{API}/auth/logout", json={"refresh_token": account.refresh_token})
        # Signing out ended that session's access token too: sign-out everywhere comes from
        # another session.
        ended = await client.post(f"{API}/auth/logout-all", headers=other.headers)
        assert ended.status_code == 204

        [logout] = await events(app, "auth.session.logout")
        [logout_all] = await events(app, "auth.session.logout_all")
        assert logout.actor.id == logout_all.actor.id == account.id
        assert account.refresh_token not in await payloads(app)

    async def test_refresh_token_reuse(
        self, app: FastAPI, client: httpx.AsyncClient, register: Any
    ) -> None:
        account = await register()
        await client.post(f"{API}/auth/refresh", json={"refresh_token": account.refresh_token})
        await client.post(f"{API}/auth/refresh", json={"refresh_token": account.refresh_token})

        [reuse] = await events(app, "auth.session.refresh_token_reused")
        assert reuse.outcome == "failure"
        assert reuse.resource is not None
        assert reuse.resource.id == account.id
        assert reuse.metadata["session_revoked"] is True


class TestPasswords:
    async def test_change_success_and_failure(
        self, app: FastAPI, client: httpx.AsyncClient, register: Any
    ) -> None:
        account = await register()
        await client.put(
            f"{API}/auth/me/password",
            json={"current_password": "not it at all", "new_password": "a brand new passphrase"},
            headers=account.headers,
        )
        await client.put(
            f"{API}/auth/me/password",
            json={"current_password": account.password, "new_password": "a brand new passphrase"},
            headers=account.headers,
        )

        outcomes = [e.outcome for e in await events(app, "auth.password.changed")]
        assert outcomes == ["failure", "success"]
        assert "a brand new passphrase" not in await payloads(app)

    async def test_a_weak_new_password_changes_nothing_and_records_nothing(
        self, app: FastAPI, client: httpx.AsyncClient, register: Any
    ) -> None:
        account = await register()
        await client.put(
            f"{API}/auth/me/password",
            json={"current_password": account.password, "new_password": "short"},
            headers=account.headers,
        )

        assert await events(app, "auth.password.changed") == []

    async def test_reset_requests_are_recorded_for_known_and_unknown_addresses(
        self, app: FastAPI, client: httpx.AsyncClient, register: Any
    ) -> None:
        account = await register()
        for email in (account.email, "nobody@example.com"):
            await client.post(f"{API}/auth/password-reset/request", json={"email": email})

        # The request writes the same whether or not the address has an account (the worker
        # looks it up, and records `auth.password.reset_mailed` when it mails a link).
        known, unknown = await events(app, "auth.password.reset_requested")
        assert known.metadata == {"email": account.email}
        assert unknown.metadata == {"email": "nobody@example.com"}
        assert known.resource is None
        assert unknown.resource is None

    async def test_a_bad_reset_token_is_recorded(
        self, app: FastAPI, client: httpx.AsyncClient
    ) -> None:
        await client.post(
            f"{API}/auth/password-reset/confirm",
            json={"token": "made-up", "new_password": "whatever passphrase"},
        )

        [failure] = await events(app, "auth.password.reset")
        assert failure.outcome == "failure"
        assert "made-up" not in await payloads(app)


class TestAdministration:
    async def test_deactivation_and_role_changes_name_the_administrator(
        self, app: FastAPI, client: httpx.AsyncClient, register: Any, admin: Any
    ) -> None:
        account = await register()
        await client.put(
            f"{API}/users/{account.id}/roles", json={"roles": ["admin"]}, headers=admin.headers
        )
        await client.patch(
            f"{API}/users/{account.id}", json={"is_active": False}, headers=admin.headers
        )

        [roles] = await events(app, "auth.user.roles_changed")
        [deactivated] = await events(app, "auth.user.deactivated")
        assert roles.metadata == {"added": ["admin"], "removed": ["user"]}
        for event in (roles, deactivated):
            assert event.actor.id == admin.id
            assert event.resource is not None
            assert event.resource.id == account.id

    async def test_role_life_cycle(
        self, app: FastAPI, client: httpx.AsyncClient, admin: Any
    ) -> None:
        created = await client.post(
            f"{API}/roles",
            json={"name": "auditor", "permissions": ["activity:read"]},
            headers=admin.headers,
        )
        role_id = created.json()["id"]
        await client.patch(
            f"{API}/roles/{role_id}", json={"permissions": ["users:read"]}, headers=admin.headers
        )
        await client.delete(f"{API}/roles/{role_id}", headers=admin.headers)

        actions = [
            (e.action, e.metadata) for e in await events(app) if e.action.startswith("auth.role.")
        ]
        assert actions == [
            ("auth.role.created", {"name": "auditor", "permissions": ["activity:read"]}),
            (
                "auth.role.updated",
                {
                    "name": "auditor",
                    "fields": ["permissions"],
                    "permissions_added": ["users:read"],
                    "permissions_removed": ["activity:read"],
                },
            ),
            ("auth.role.deleted", {"name": "auditor", "permissions": ["users:read"]}),
        ]

    async def test_creating_an_administrator_is_recorded_as_the_system(
        self, app: FastAPI, admin: Any
    ) -> None:
        [created] = await events(app, "auth.user.registered")

        assert created.actor.type == "system"
        assert created.resource is not None
        assert created.resource.id == admin.id
        assert created.metadata == {"roles": ["super_admin"], "via": "cli"}

    async def test_key_rotation_is_recorded_as_the_system(self, app: FastAPI) -> None:
        async with service_core(app).database.sessionmaker() as session:
            settings = service_runtime(app, AuthRuntime).settings
            new_key, retired = await SigningKeyService(session, settings=settings).rotate()

        [event] = await events(app, "auth.signing_key.rotated")
        assert event.actor.type == "system"
        assert event.resource is not None
        assert event.resource.id == new_key.kid
        assert retired is not None
        assert event.metadata == {"retired_kid": retired.kid}


class TestServiceClients:
    async def test_creation_and_tokens_issued_or_refused(
        self, app: FastAPI, client: httpx.AsyncClient
    ) -> None:
        async with service_core(app).database.sessionmaker() as session:
            clients = ServiceClientAdmin(session, revocations=AccessRevocations())
            _, secret = await clients.create(name="billing", permissions=[])
        for attempt in (secret, "wrong"):
            await client.post(
                f"{API}/auth/token",
                data={
                    "grant_type": "client_credentials",
                    "client_id": "billing",
                    "client_secret": attempt,
                },
            )

        [created] = await events(app, "auth.service_client.created")
        issued, refused = await events(app, "auth.service_client.token_issued")
        assert created.actor.type == "system"
        assert (issued.outcome, issued.actor.type, issued.actor.id) == (
            "success",
            "service",
            "service:billing",
        )
        assert (refused.outcome, refused.metadata) == ("failure", {"client_id": "billing"})
        assert secret not in await payloads(app)


class TestNoSecretsAnywhere:
    async def test_a_full_session_leaves_no_token_or_password_in_the_outbox(
        self, app: FastAPI, client: httpx.AsyncClient, register: Any
    ) -> None:
        account = await register()
        refreshed = await client.post(
            f"{API}/auth/refresh", json={"refresh_token": account.refresh_token}
        )
        await client.post(f"{API}/auth/logout-all", headers=account.headers)

        everything = await payloads(app)
        for secret in (
            account.password,
            account.access_token,
            account.refresh_token,
            refreshed.json()["refresh_token"],
        ):
            assert secret not in everything
        assert uuid.UUID(account.id)  # events name the user by id
        assert account.id in everything
