"""The caller's own account: read, update, change the password."""

from __future__ import annotations

import uuid
from typing import Any

import httpx
import jwt
from fastapi import FastAPI
from sqlalchemy import update

from auth_service.models import User
from common.runtime import service_core
from common.testing import assert_error

API = "/api/v1"


class TestReadMe:
    async def test_returns_the_callers_profile(
        self, client: httpx.AsyncClient, register: Any
    ) -> None:
        account = await register(full_name="Grace Hopper")
        response = await client.get(f"{API}/auth/me", headers=account.headers)
        assert response.status_code == 200
        body = response.json()
        assert body["id"] == account.id
        assert body["email"] == account.email
        assert body["full_name"] == "Grace Hopper"
        assert body["roles"] == ["user"]

    async def test_without_a_token_is_401_with_a_bearer_challenge(
        self, client: httpx.AsyncClient
    ) -> None:
        response = await client.get(f"{API}/auth/me")
        assert_error(response, 401, "not_authenticated")
        assert response.headers["www-authenticate"] == 'Bearer realm="api"'

    async def test_a_garbage_token_is_invalid(self, client: httpx.AsyncClient) -> None:
        response = await client.get(
            f"{API}/auth/me", headers={"Authorization": "Bearer not.a.token"}
        )
        assert_error(response, 401, "invalid_token")
        assert 'error="invalid_token"' in response.headers["www-authenticate"]

    async def test_a_token_signed_by_another_key_is_invalid(
        self, client: httpx.AsyncClient, register: Any
    ) -> None:
        from cryptography.hazmat.primitives.asymmetric import rsa

        account = await register()
        header = jwt.get_unverified_header(account.access_token)
        payload = jwt.decode(account.access_token, options={"verify_signature": False})
        forged = jwt.encode(
            payload,
            rsa.generate_private_key(public_exponent=65537, key_size=2048),
            algorithm="RS256",
            headers={"kid": header["kid"], "typ": "at+jwt"},
        )
        response = await client.get(f"{API}/auth/me", headers={"Authorization": f"Bearer {forged}"})
        assert_error(response, 401, "invalid_token")

    async def test_a_deactivated_account_is_refused_at_once(
        self, client: httpx.AsyncClient, register: Any, admin: Any
    ) -> None:
        account = await register()
        await client.patch(
            f"{API}/users/{account.id}", json={"is_active": False}, headers=admin.headers
        )
        response = await client.get(f"{API}/auth/me", headers=account.headers)
        assert_error(response, 401, "token_revoked")

    async def test_an_account_deactivated_behind_auths_back_is_refused_at_once(
        self, client: httpx.AsyncClient, register: Any, app: FastAPI
    ) -> None:
        """A change made straight in the database publishes no revocation; the profile read
        still checks the account."""
        account = await register()
        async with service_core(app).database.sessionmaker() as session:
            await session.execute(
                update(User).where(User.id == uuid.UUID(account.id)).values(is_active=False)
            )
            await session.commit()
        response = await client.get(f"{API}/auth/me", headers=account.headers)
        assert_error(response, 401, "account_inactive")


class TestUpdateMe:
    async def test_changes_the_name(self, client: httpx.AsyncClient, register: Any) -> None:
        account = await register()
        response = await client.put(
            f"{API}/auth/me", json={"full_name": "Katherine Johnson"}, headers=account.headers
        )
        assert response.status_code == 200
        assert response.json()["full_name"] == "Katherine Johnson"
        again = await client.get(f"{API}/auth/me", headers=account.headers)
        assert again.json()["full_name"] == "Katherine Johnson"

    async def test_cannot_change_email_or_roles(
        self, client: httpx.AsyncClient, register: Any
    ) -> None:
        account = await register()
        response = await client.put(
            f"{API}/auth/me",
            json={"full_name": "X", "roles": ["super_admin"], "email": "x@example.com"},
            headers=account.headers,
        )
        error = assert_error(response, 422, "validation_error")
        assert {tuple(d["loc"]) for d in error["details"]} == {("body", "roles"), ("body", "email")}


class TestChangePassword:
    async def test_new_password_works_and_other_sessions_end(
        self, client: httpx.AsyncClient, register: Any
    ) -> None:
        account = await register()
        other = await client.post(
            f"{API}/auth/login", json={"email": account.email, "password": account.password}
        )
        new_password = "a brand new passphrase"
        response = await client.put(
            f"{API}/auth/me/password",
            json={"current_password": account.password, "new_password": new_password},
            headers=account.headers,
        )
        assert response.status_code == 204
        # The session that changed the password keeps going; the other one is over.
        kept = await client.post(
            f"{API}/auth/refresh", json={"refresh_token": account.refresh_token}
        )
        assert kept.status_code == 200
        ended = await client.post(
            f"{API}/auth/refresh", json={"refresh_token": other.json()["refresh_token"]}
        )
        assert ended.status_code == 401
        old = await client.post(
            f"{API}/auth/login", json={"email": account.email, "password": account.password}
        )
        assert_error(old, 401, "invalid_credentials")
        new = await client.post(
            f"{API}/auth/login", json={"email": account.email, "password": new_password}
        )
        assert new.status_code == 200

    async def test_wrong_current_password_is_refused(
        self, client: httpx.AsyncClient, register: Any
    ) -> None:
        account = await register()
        response = await client.put(
            f"{API}/auth/me/password",
            json={"current_password": "not my password", "new_password": "a brand new one!"},
            headers=account.headers,
        )
        assert_error(response, 400, "incorrect_password")

    async def test_weak_new_password_is_refused_and_the_old_one_stays(
        self, client: httpx.AsyncClient, register: Any
    ) -> None:
        account = await register()
        response = await client.put(
            f"{API}/auth/me/password",
            json={"current_password": account.password, "new_password": "short"},
            headers=account.headers,
        )
        assert_error(response, 422, "weak_password")
        login = await client.post(
            f"{API}/auth/login", json={"email": account.email, "password": account.password}
        )
        assert login.status_code == 200
