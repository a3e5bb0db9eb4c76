"""Registration, login, the OAuth2 token endpoint, refresh rotation and logout."""

from __future__ import annotations

import asyncio
import base64
from typing import Any

import httpx
import jwt
import pytest
from fastapi import FastAPI

from auth_service.runtime import AuthRuntime
from auth_service.services.revocations import AccessRevocations
from auth_service.services.service_clients import ServiceClientAdmin
from common.runtime import service_core, service_runtime
from common.testing import assert_documented, assert_error

from ..test_audit import payloads

API = "/api/v1"


def claims(token: str) -> dict[str, Any]:
    decoded: dict[str, Any] = jwt.decode(token, options={"verify_signature": False})
    return decoded


class TestRegister:
    async def test_creates_an_active_account_with_the_user_role(
        self, client: httpx.AsyncClient, password: str
    ) -> None:
        response = await client.post(
            f"{API}/auth/register",
            json={"email": "Ada@Example.com", "password": password, "full_name": "Ada Lovelace"},
        )
        assert response.status_code == 201
        body = response.json()
        assert body["email"] == "ada@example.com"
        assert body["full_name"] == "Ada Lovelace"
        assert body["is_active"] is True
        assert body["roles"] == ["user"]
        assert body["last_login_at"] is None
        assert "password" not in response.text
        assert "password_hash" not in body

    @pytest.mark.parametrize(
        "extra", [{"roles": ["super_admin"]}, {"is_superuser": True}, {"is_active": False}]
    )
    async def test_refuses_privileged_extra_fields(
        self, client: httpx.AsyncClient, password: str, extra: dict[str, Any]
    ) -> None:
        response = await client.post(
            f"{API}/auth/register", json={"email": "eve@example.com", "password": password, **extra}
        )
        error = assert_error(response, 422, "validation_error")
        assert error["details"][0]["type"] == "extra_forbidden"
        assert error["details"][0]["loc"] == ["body", next(iter(extra))]

    async def test_duplicate_email_is_a_conflict_whatever_the_case(
        self, client: httpx.AsyncClient, password: str
    ) -> None:
        first = await client.post(
            f"{API}/auth/register", json={"email": "bob@example.com", "password": password}
        )
        assert first.status_code == 201
        again = await client.post(
            f"{API}/auth/register", json={"email": "BOB@example.com", "password": password}
        )
        assert_error(again, 409, "email_taken")

    async def test_concurrent_duplicates_create_one_account(
        self, client: httpx.AsyncClient, password: str
    ) -> None:
        responses = await asyncio.gather(
            *(
                client.post(
                    f"{API}/auth/register", json={"email": "race@example.com", "password": password}
                )
                for _ in range(4)
            )
        )
        statuses = sorted(r.status_code for r in responses)
        assert statuses == [201, 409, 409, 409]

    @pytest.mark.parametrize(
        ("password", "reason"),
        [
            ("short", "at least 12"),
            ("Qwerty123456", "too common"),
            ("aaaaaaaaaaaaaaaa", "repeat"),
            ("carol@example.com", "e-mail"),
        ],
    )
    async def test_weak_passwords_are_refused_with_the_reason(
        self, client: httpx.AsyncClient, password: str, reason: str
    ) -> None:
        response = await client.post(
            f"{API}/auth/register", json={"email": "carol@example.com", "password": password}
        )
        error = assert_error(response, 422, "weak_password")
        assert reason in error["message"]

    async def test_accepts_unicode_passphrases_without_composition_rules(
        self, client: httpx.AsyncClient
    ) -> None:
        response = await client.post(
            f"{API}/auth/register",
            json={"email": "dan@example.com", "password": "ünïcödé pässphrâse ☕"},
        )
        assert response.status_code == 201

    @pytest.mark.parametrize(
        ("body", "location"),
        [
            ({"email": "not-an-email", "password": "long enough password"}, "email"),
            ({"email": "x@example.com", "password": "p" * 129}, "password"),
            ({"email": "x@example.com", "password": 123456789012}, "password"),
            ({"email": "x@example.com"}, "password"),
            (
                {"email": "x@example.com", "password": "long enough pw", "full_name": "n" * 201},
                "full_name",
            ),
            ({"email": f"{'a' * 300}@example.com", "password": "long enough pw"}, "email"),
        ],
    )
    async def test_bad_bodies_are_422_with_the_field_named(
        self, client: httpx.AsyncClient, body: dict[str, Any], location: str
    ) -> None:
        response = await client.post(f"{API}/auth/register", json=body)
        error = assert_error(response, 422, "validation_error")
        assert ["body", location] in [d["loc"] for d in error["details"]]
        assert "long enough" not in response.text  # submitted values are never echoed

    async def test_a_nul_character_is_refused_not_a_server_error(
        self, client: httpx.AsyncClient, password: str
    ) -> None:
        response = await client.post(
            f"{API}/auth/register",
            json={"email": "nul@example.com", "password": password, "full_name": "a\u0000b"},
        )
        assert_error(response, 422, "invalid_value")

    async def test_malformed_json_is_refused(self, client: httpx.AsyncClient) -> None:
        response = await client.post(
            f"{API}/auth/register",
            content=b'{"email": "x@example.com", "password": ',
            headers={"content-type": "application/json"},
        )
        assert_error(response, 422, "malformed_json")


class TestRegistrationLimit:
    @pytest.fixture
    def settings_overrides(self) -> dict[str, Any]:
        return {"registration_max_per_ip": 2}

    async def test_registrations_past_the_limit_are_429_as_documented(
        self, app: FastAPI, client: httpx.AsyncClient, password: str
    ) -> None:
        """Found by the fuzzing pass: the limit answered 429 where the OpenAPI of the
        operation listed only 201, 409 and 422."""
        for n in range(2):
            created = await client.post(
                f"{API}/auth/register", json={"email": f"u{n}@example.com", "password": password}
            )
            assert created.status_code == 201
        refused = await client.post(
            f"{API}/auth/register", json={"email": "u2@example.com", "password": password}
        )

        assert_error(refused, 429, "rate_limited")
        assert int(refused.headers["retry-after"]) > 0
        assert_documented(app.openapi(), "POST", f"{API}/auth/register", refused)


class TestLogin:
    async def test_returns_a_bearer_pair_with_the_documented_claims(
        self, client: httpx.AsyncClient, register: Any, app: FastAPI
    ) -> None:
        account = await register(email="erin@example.com")
        response = await client.post(
            f"{API}/auth/login", json={"email": "ERIN@example.com", "password": account.password}
        )
        assert response.status_code == 200
        body = response.json()
        assert set(body) == {"access_token", "refresh_token", "token_type", "expires_in"}
        assert body["token_type"] == "bearer"
        assert body["expires_in"] == 900
        assert response.headers["cache-control"] == "no-store"
        header = jwt.get_unverified_header(body["access_token"])
        assert header["alg"] == "RS256"
        assert header["typ"] == "at+jwt"
        assert header["kid"]
        token_claims = claims(body["access_token"])
        settings = service_runtime(app, AuthRuntime).settings
        assert token_claims["iss"] == settings.jwt_issuer
        assert token_claims["aud"] == settings.jwt_audience
        assert token_claims["sub"] == account.id
        assert token_claims["exp"] - token_claims["iat"] == 900
        assert token_claims["nbf"] == token_claims["iat"]
        assert token_claims["roles"] == ["user"]
        assert token_claims["permissions"] == ["files:read", "files:write", "release_notes:read"]
        assert token_claims["jti"]
        assert token_claims["sid"]

    async def test_unknown_email_and_wrong_password_get_identical_answers(
        self, client: httpx.AsyncClient, register: Any
    ) -> None:
        account = await register()
        wrong_password = await client.post(
            f"{API}/auth/login", json={"email": account.email, "password": "not the password"}
        )
        unknown_email = await client.post(
            f"{API}/auth/login", json={"email": "nobody@example.com", "password": "not the pw"}
        )
        first = assert_error(wrong_password, 401, "invalid_credentials")
        second = assert_error(unknown_email, 401, "invalid_credentials")
        assert first["message"] == second["message"]
        assert (
            wrong_password.headers["www-authenticate"] == unknown_email.headers["www-authenticate"]
        )

    async def test_a_deactivated_account_cannot_log_in(
        self, client: httpx.AsyncClient, register: Any, admin: Any
    ) -> None:
        account = await register()
        deactivated = await client.patch(
            f"{API}/users/{account.id}", json={"is_active": False}, headers=admin.headers
        )
        assert deactivated.status_code == 200
        response = await client.post(
            f"{API}/auth/login", json={"email": account.email, "password": account.password}
        )
        assert_error(response, 401, "invalid_credentials")

    async def test_records_the_last_login(self, client: httpx.AsyncClient, register: Any) -> None:
        account = await register()
        me = await client.get(f"{API}/auth/me", headers=account.headers)
        assert me.json()["last_login_at"] is not None


class TestLoginThrottling:
    @pytest.fixture
    def settings_overrides(self) -> dict[str, Any]:
        return {"login_max_failures_per_account": 3, "login_max_failures_per_ip": 5}

    async def test_locks_an_account_after_repeated_failures(
        self, client: httpx.AsyncClient, register: Any
    ) -> None:
        account = await register()
        for _ in range(3):
            failed = await client.post(
                f"{API}/auth/login", json={"email": account.email, "password": "wrong password!"}
            )
            assert_error(failed, 401, "invalid_credentials")
        locked = await client.post(
            f"{API}/auth/login", json={"email": account.email, "password": account.password}
        )
        assert_error(locked, 429, "too_many_attempts")
        assert 0 < int(locked.headers["retry-after"]) <= 900

    async def test_unknown_accounts_are_throttled_the_same_way(
        self, client: httpx.AsyncClient
    ) -> None:
        for _ in range(3):
            failed = await client.post(
                f"{API}/auth/login", json={"email": "ghost@example.com", "password": "guess guess"}
            )
            assert_error(failed, 401, "invalid_credentials")
        locked = await client.post(
            f"{API}/auth/login", json={"email": "ghost@example.com", "password": "guess guess"}
        )
        assert_error(locked, 429, "too_many_attempts")

    async def test_limits_failures_per_client_address_across_accounts(
        self, client: httpx.AsyncClient, register: Any
    ) -> None:
        account = await register()
        for index in range(5):
            await client.post(
                f"{API}/auth/login",
                json={"email": f"spray{index}@example.com", "password": "spray spray"},
            )
        blocked = await client.post(
            f"{API}/auth/login", json={"email": account.email, "password": account.password}
        )
        assert_error(blocked, 429, "too_many_attempts")

    async def test_success_clears_the_account_counter(
        self, client: httpx.AsyncClient, register: Any
    ) -> None:
        account = await register()
        for _ in range(2):
            await client.post(
                f"{API}/auth/login", json={"email": account.email, "password": "wrong password!"}
            )
        ok = await client.post(
            f"{API}/auth/login", json={"email": account.email, "password": account.password}
        )
        assert ok.status_code == 200
        for _ in range(2):
            again = await client.post(
                f"{API}/auth/login", json={"email": account.email, "password": "wrong password!"}
            )
            assert_error(again, 401, "invalid_credentials")


class TestTokenEndpoint:
    async def test_password_grant_answers_like_login(
        self, client: httpx.AsyncClient, register: Any
    ) -> None:
        account = await register()
        response = await client.post(
            f"{API}/auth/token",
            data={
                "grant_type": "password",
                "username": account.email,
                "password": account.password,
            },
        )
        assert response.status_code == 200
        body = response.json()
        assert body["token_type"] == "bearer"
        assert claims(body["access_token"])["sub"] == account.id
        assert body["refresh_token"]

    async def test_refresh_token_grant_rotates(
        self, client: httpx.AsyncClient, register: Any
    ) -> None:
        account = await register()
        response = await client.post(
            f"{API}/auth/token",
            data={"grant_type": "refresh_token", "refresh_token": account.refresh_token},
        )
        assert response.status_code == 200
        assert response.json()["refresh_token"] != account.refresh_token

    @pytest.mark.parametrize("use_basic", [True, False])
    async def test_client_credentials_grant_issues_a_service_token(
        self, client: httpx.AsyncClient, app: FastAPI, use_basic: bool
    ) -> None:
        async with service_core(app).database.sessionmaker() as session:
            clients = ServiceClientAdmin(session, revocations=AccessRevocations())
            _, secret = await clients.create(name="billing", permissions=["users:read"])
        if use_basic:
            basic = base64.b64encode(f"billing:{secret}".encode()).decode()
            response = await client.post(
                f"{API}/auth/token",
                data={"grant_type": "client_credentials"},
                headers={"Authorization": f"Basic {basic}"},
            )
        else:
            response = await client.post(
                f"{API}/auth/token",
                data={
                    "grant_type": "client_credentials",
                    "client_id": "billing",
                    "client_secret": secret,
                },
            )
        assert response.status_code == 200
        body = response.json()
        assert "refresh_token" not in body
        token_claims = claims(body["access_token"])
        assert token_claims["sub"] == "service:billing"
        assert token_claims["client_id"] == "billing"
        assert token_claims["permissions"] == ["users:read"]
        assert token_claims["roles"] == []
        users = await client.get(
            f"{API}/users", headers={"Authorization": f"Bearer {body['access_token']}"}
        )
        assert users.status_code == 200

    async def test_wrong_client_secret_is_invalid_client(
        self, client: httpx.AsyncClient, app: FastAPI
    ) -> None:
        async with service_core(app).database.sessionmaker() as session:
            clients = ServiceClientAdmin(session, revocations=AccessRevocations())
            await clients.create(name="billing", permissions=[])
        response = await client.post(
            f"{API}/auth/token",
            data={"grant_type": "client_credentials", "client_id": "billing", "client_secret": "x"},
        )
        assert_error(response, 401, "invalid_client")
        assert response.headers["www-authenticate"].startswith("Basic")

    @pytest.mark.parametrize(
        "header",
        [
            "Basic !!!not-base64!!!",
            "Basic " + base64.b64encode(b"no-colon-at-all").decode(),
            "Basic " + base64.b64encode(b"\xff\xfe:\xfd").decode(),
            "Basic " + base64.b64encode(b"\x00:\x00").decode(),
            "basic",
        ],
    )
    async def test_a_malformed_basic_header_is_invalid_client(
        self, client: httpx.AsyncClient, header: str
    ) -> None:
        response = await client.post(
            f"{API}/auth/token",
            data={"grant_type": "client_credentials"},
            headers={"Authorization": header},
        )
        assert_error(response, 401, "invalid_client")
        assert response.headers["www-authenticate"].startswith("Basic")

    async def test_basic_credentials_are_form_decoded(
        self, client: httpx.AsyncClient, app: FastAPI
    ) -> None:
        async with service_core(app).database.sessionmaker() as session:
            clients = ServiceClientAdmin(session, revocations=AccessRevocations())
            _, secret = await clients.create(name="billing", permissions=[])
        encoded = base64.b64encode(f"bill%69ng:{secret}".encode()).decode()
        response = await client.post(
            f"{API}/auth/token",
            data={"grant_type": "client_credentials"},
            headers={"Authorization": f"Basic {encoded}"},
        )
        assert response.status_code == 200, response.text

    @pytest.mark.parametrize("username", ["not an e-mail", "my secret password", "a" * 400])
    async def test_the_password_grant_takes_an_e_mail_address_only(
        self, client: httpx.AsyncClient, app: FastAPI, username: str
    ) -> None:
        """Anything else (a password typed into the wrong field) would be written to the audit
        trail forever."""
        response = await client.post(
            f"{API}/auth/token",
            data={"grant_type": "password", "username": username, "password": "whatever!"},
        )
        error = assert_error(response, 422, "validation_error")
        assert ["body", "username"] in [d["loc"][:2] for d in error["details"]]
        assert username not in await payloads(app)

    async def test_unknown_grant_type_is_refused(self, client: httpx.AsyncClient) -> None:
        response = await client.post(f"{API}/auth/token", data={"grant_type": "implicit"})
        assert_error(response, 400, "unsupported_grant_type")

    async def test_missing_grant_parameters_are_named(self, client: httpx.AsyncClient) -> None:
        response = await client.post(
            f"{API}/auth/token", data={"grant_type": "password", "username": "a@example.com"}
        )
        error = assert_error(response, 422, "invalid_request")
        assert "password" in error["message"]

    async def test_missing_grant_type_is_a_validation_error(
        self, client: httpx.AsyncClient
    ) -> None:
        response = await client.post(f"{API}/auth/token", data={"username": "a@example.com"})
        error = assert_error(response, 422, "validation_error")
        assert ["body", "grant_type"] in [d["loc"] for d in error["details"]]


class TestRefresh:
    async def test_rotates_the_refresh_token_within_the_session(
        self, client: httpx.AsyncClient, register: Any
    ) -> None:
        account = await register()
        response = await client.post(
            f"{API}/auth/refresh", json={"refresh_token": account.refresh_token}
        )
        assert response.status_code == 200
        body = response.json()
        assert body["refresh_token"] != account.refresh_token
        assert claims(body["access_token"])["sid"] == claims(account.access_token)["sid"]
        assert claims(body["access_token"])["jti"] != claims(account.access_token)["jti"]

    async def test_reused_token_revokes_the_whole_family(
        self, client: httpx.AsyncClient, register: Any
    ) -> None:
        account = await register()
        rotated = await client.post(
            f"{API}/auth/refresh", json={"refresh_token": account.refresh_token}
        )
        newest = rotated.json()["refresh_token"]
        replay = await client.post(
            f"{API}/auth/refresh", json={"refresh_token": account.refresh_token}
        )
        assert_error(replay, 401, "refresh_token_reused")
        # The legitimate holder's newest token died with the family.
        after = await client.post(f"{API}/auth/refresh", json={"refresh_token": newest})
        assert_error(after, 401, "refresh_token_reused")

    async def test_reuse_does_not_touch_other_sessions(
        self, client: httpx.AsyncClient, register: Any
    ) -> None:
        account = await register()
        second = await client.post(
            f"{API}/auth/login", json={"email": account.email, "password": account.password}
        )
        await client.post(f"{API}/auth/refresh", json={"refresh_token": account.refresh_token})
        await client.post(f"{API}/auth/refresh", json={"refresh_token": account.refresh_token})
        other = await client.post(
            f"{API}/auth/refresh", json={"refresh_token": second.json()["refresh_token"]}
        )
        assert other.status_code == 200

    async def test_concurrent_use_of_one_token_lets_exactly_one_through(
        self, client: httpx.AsyncClient, register: Any
    ) -> None:
        account = await register()
        responses = await asyncio.gather(
            *(
                client.post(f"{API}/auth/refresh", json={"refresh_token": account.refresh_token})
                for _ in range(3)
            )
        )
        assert sorted(r.status_code for r in responses) == [200, 401, 401]

    async def test_unknown_token_is_refused(self, client: httpx.AsyncClient) -> None:
        response = await client.post(f"{API}/auth/refresh", json={"refresh_token": "made-up"})
        assert_error(response, 401, "invalid_refresh_token")

    async def test_expired_session_is_refused(
        self, client: httpx.AsyncClient, register: Any, app: FastAPI
    ) -> None:
        account = await register()
        async with service_core(app).database.engine.begin() as connection:
            await connection.exec_driver_sql(
                "UPDATE auth.refresh_token SET expires_at = now() - interval '1 second'"
            )
        response = await client.post(
            f"{API}/auth/refresh", json={"refresh_token": account.refresh_token}
        )
        assert_error(response, 401, "invalid_refresh_token")

    async def test_a_deactivated_account_cannot_refresh(
        self, client: httpx.AsyncClient, register: Any, admin: Any
    ) -> None:
        account = await register()
        await client.patch(
            f"{API}/users/{account.id}", json={"is_active": False}, headers=admin.headers
        )
        response = await client.post(
            f"{API}/auth/refresh", json={"refresh_token": account.refresh_token}
        )
        assert response.status_code == 401
        assert response.json()["error"]["code"] in {"refresh_token_reused", "invalid_refresh_token"}

    async def test_oversize_token_is_a_validation_error(self, client: httpx.AsyncClient) -> None:
        response = await client.post(f"{API}/auth/refresh", json={"refresh_token": "x" * 300})
        assert_error(response, 422, "validation_error")


class TestLogout:
    async def test_ends_that_session_only(self, client: httpx.AsyncClient, register: Any) -> None:
        account = await register()
        other = await client.post(
            f"{API}/auth/login", json={"email": account.email, "password": account.password}
        )
        response = await client.post(
            f"{API}/auth/logout", json={"refresh_token": account.refresh_token}
        )
        assert response.status_code == 204
        assert response.content == b""
        dead = await client.post(
            f"{API}/auth/refresh", json={"refresh_token": account.refresh_token}
        )
        assert dead.status_code == 401
        alive = await client.post(
            f"{API}/auth/refresh", json={"refresh_token": other.json()["refresh_token"]}
        )
        assert alive.status_code == 200

    async def test_is_idempotent_for_unknown_tokens(self, client: httpx.AsyncClient) -> None:
        response = await client.post(f"{API}/auth/logout", json={"refresh_token": "never-issued"})
        assert response.status_code == 204


class TestLogoutAll:
    async def test_ends_every_session_of_the_caller(
        self, client: httpx.AsyncClient, register: Any
    ) -> None:
        account = await register()
        other = await client.post(
            f"{API}/auth/login", json={"email": account.email, "password": account.password}
        )
        response = await client.post(f"{API}/auth/logout-all", headers=account.headers)
        assert response.status_code == 204
        for token in (account.refresh_token, other.json()["refresh_token"]):
            refreshed = await client.post(f"{API}/auth/refresh", json={"refresh_token": token})
            assert refreshed.status_code == 401

    async def test_requires_a_token(self, client: httpx.AsyncClient) -> None:
        response = await client.post(f"{API}/auth/logout-all")
        assert_error(response, 401, "not_authenticated")
        assert response.headers["www-authenticate"].startswith("Bearer")
