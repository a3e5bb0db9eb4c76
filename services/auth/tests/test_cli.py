"""The operator commands, run as real processes against the test database."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import httpx
import jwt
import pytest
from fastapi import FastAPI

from auth_service.settings import AuthSettings
from common.runtime import service_core
from common.testing import assert_error

API = "/api/v1"


@pytest.fixture
def run_cli(clean_database: str, redis_url: str, redis_prefix: str, tmp_path: Path) -> Any:
    def _run(*args: str, stdin: str | None = None) -> subprocess.CompletedProcess[str]:
        env = {
            **os.environ,
            "DATABASE_URL": clean_database,
            "REDIS_URL": redis_url,
            "REDIS_KEY_PREFIX": redis_prefix,
            "ENVIRONMENT": "test",
            "LOG_LEVEL": "WARNING",
        }
        return subprocess.run(  # noqa: S603 (fixed arguments)
            [sys.executable, "-m", "auth_service.cli", *args],
            input=stdin,
            capture_output=True,
            text=True,
            env=env,
            cwd=tmp_path,  # no .env of a developer's checkout
            timeout=60,
            check=False,
            # No controlling terminal: getpass falls back to stdin, as it would under a pipe.
            start_new_session=True,
        )

    return _run


class TestCreateAdmin:
    async def test_creates_a_super_admin_from_stdin(
        self, run_cli: Any, client: httpx.AsyncClient, password: str
    ) -> None:
        result = run_cli(
            "create-admin", "--email", "Ops@Example.com", "--password-stdin", stdin=password + "\n"
        )
        assert result.returncode == 0, result.stderr
        assert "created super_admin ops@example.com" in result.stdout
        assert password not in result.stdout + result.stderr
        login = await client.post(
            f"{API}/auth/login", json={"email": "ops@example.com", "password": password}
        )
        assert jwt.decode(login.json()["access_token"], options={"verify_signature": False})[
            "roles"
        ] == ["super_admin"]

    async def test_refuses_an_account_someone_registered_in_advance(
        self, run_cli: Any, client: httpx.AsyncClient, register: Any, password: str
    ) -> None:
        squatter = await register(email="ops@example.com")
        result = run_cli(
            "create-admin",
            "--email",
            squatter.email,
            "--password-stdin",
            stdin="the operator's passphrase\n",
        )
        assert result.returncode == 1
        assert "--grant-existing" in result.stderr
        login = await client.post(
            f"{API}/auth/login", json={"email": squatter.email, "password": password}
        )
        claims = jwt.decode(login.json()["access_token"], options={"verify_signature": False})
        assert claims["roles"] == ["user"]

    async def test_grant_existing_replaces_the_password_and_ends_every_session(
        self, run_cli: Any, client: httpx.AsyncClient, register: Any, password: str
    ) -> None:
        squatter = await register(email="ops@example.com")
        operators = "the operator's own passphrase"
        result = run_cli(
            "create-admin",
            "--email",
            squatter.email,
            "--password-stdin",
            "--grant-existing",
            stdin=operators + "\n",
        )
        assert result.returncode == 0, result.stderr
        assert "granted super_admin" in result.stdout
        old_password = await client.post(
            f"{API}/auth/login", json={"email": squatter.email, "password": password}
        )
        assert_error(old_password, 401, "invalid_credentials")
        refreshed = await client.post(
            f"{API}/auth/refresh", json={"refresh_token": squatter.refresh_token}
        )
        assert refreshed.status_code == 401
        login = await client.post(
            f"{API}/auth/login", json={"email": squatter.email, "password": operators}
        )
        claims = jwt.decode(login.json()["access_token"], options={"verify_signature": False})
        assert claims["roles"] == ["super_admin", "user"]
        # The running service's relay publishes what the CLI wrote; its feed follows.
        for _ in range(100):
            me = await client.get(f"{API}/auth/me", headers=squatter.headers)
            if me.status_code != 200:
                break
            await asyncio.sleep(0.05)
        assert_error(me, 401, "token_revoked")

    async def test_asks_for_email_and_password_interactively(
        self, run_cli: Any, client: httpx.AsyncClient, password: str
    ) -> None:
        answers = f"asked@example.com\n{password}\n{password}\n"
        result = run_cli("create-admin", stdin=answers)
        assert result.returncode == 0, result.stderr
        assert "created super_admin asked@example.com" in result.stdout
        login = await client.post(
            f"{API}/auth/login", json={"email": "asked@example.com", "password": password}
        )
        assert login.status_code == 200

    def test_interactive_passwords_must_match(self, run_cli: Any, app: FastAPI) -> None:
        result = run_cli("create-admin", stdin="x@example.com\nfirst passphrase\nsecond one\n")
        assert result.returncode == 1
        assert "the passwords differ" in result.stderr

    def test_refuses_a_weak_password(self, run_cli: Any, app: FastAPI) -> None:
        result = run_cli(
            "create-admin", "--email", "ops@example.com", "--password-stdin", stdin="short\n"
        )
        assert result.returncode == 1
        assert "at least 12 characters" in result.stderr

    def test_refuses_a_malformed_email(self, run_cli: Any, app: FastAPI) -> None:
        result = run_cli(
            "create-admin", "--email", "nope", "--password-stdin", stdin="long enough pw!\n"
        )
        assert result.returncode == 1
        assert "not a valid e-mail address" in result.stderr


class TestRotateSigningKey:
    async def test_rotates_and_the_running_service_follows(
        self, run_cli: Any, client: httpx.AsyncClient, register: Any
    ) -> None:
        account = await register()
        old_kid = jwt.get_unverified_header(account.access_token)["kid"]
        result = run_cli("rotate-signing-key")
        assert result.returncode == 0, result.stderr
        assert f"retired {old_kid}" in result.stdout
        new_kid = result.stdout.split("active signing key: ")[1].split()[0]
        jwks = await client.get("/.well-known/jwks.json")
        assert {k["kid"] for k in jwks.json()["keys"]} == {old_kid, new_kid}
        login = await client.post(
            f"{API}/auth/login", json={"email": account.email, "password": account.password}
        )
        assert jwt.get_unverified_header(login.json()["access_token"])["kid"] == new_kid


class TestCreateServiceClient:
    async def test_prints_a_secret_that_works_once_shown(
        self, run_cli: Any, client: httpx.AsyncClient, app: FastAPI
    ) -> None:
        result = run_cli("create-service-client", "reports", "--permission", "users:read")
        assert result.returncode == 0, result.stderr
        lines = dict(line.split(": ", 1) for line in result.stdout.splitlines() if ": " in line)
        token = await client.post(
            f"{API}/auth/token",
            data={
                "grant_type": "client_credentials",
                "client_id": lines["client_id"],
                "client_secret": lines["client_secret"],
            },
        )
        assert token.status_code == 200
        async with service_core(app).database.engine.connect() as connection:
            stored = await connection.exec_driver_sql("SELECT secret_hash FROM auth.service_client")
            assert lines["client_secret"] not in str(stored.all())

    def test_refuses_unknown_permissions(self, run_cli: Any, app: FastAPI) -> None:
        result = run_cli("create-service-client", "reports", "--permission", "moon:land")
        assert result.returncode == 1
        assert "moon:land" in result.stderr

    def test_refuses_a_duplicate_name(self, run_cli: Any, app: FastAPI) -> None:
        assert run_cli("create-service-client", "reports").returncode == 0
        again = run_cli("create-service-client", "reports")
        assert again.returncode == 1
        assert "already exists" in again.stderr


class TestDisableServiceClient:
    async def test_refuses_its_secret_and_revokes_its_tokens(
        self, run_cli: Any, client: httpx.AsyncClient, app: FastAPI
    ) -> None:
        created = run_cli("create-service-client", "billing", "--permission", "users:read")
        secret = created.stdout.split("client_secret: ")[1].split()[0]
        form = {"grant_type": "client_credentials", "client_id": "billing", "client_secret": secret}
        token = (await client.post(f"{API}/auth/token", data=form)).json()["access_token"]
        headers = {"Authorization": f"Bearer {token}"}
        assert (await client.get(f"{API}/users", headers=headers)).status_code == 200

        result = run_cli("disable-service-client", "billing")

        assert result.returncode == 0, result.stderr
        assert_error(await client.post(f"{API}/auth/token", data=form), 401, "invalid_client")
        for _ in range(100):  # the running service's relay publishes what the CLI wrote
            users = await client.get(f"{API}/users", headers=headers)
            if users.status_code != 200:
                break
            await asyncio.sleep(0.05)
        assert_error(users, 401, "token_revoked")

    def test_an_unknown_client_is_refused(self, run_cli: Any, app: FastAPI) -> None:
        result = run_cli("disable-service-client", "nobody")
        assert result.returncode == 1
        assert "no service client" in result.stderr


class TestUsage:
    def test_unknown_command_is_a_usage_error(self, run_cli: Any) -> None:
        result = run_cli("launch-rockets")
        assert result.returncode == 2
        assert "invalid choice" in result.stderr


class TestUnconfigured:
    def test_refuses_production_defaults_with_the_list_and_no_traceback(
        self, tmp_path: Path
    ) -> None:
        """No ENVIRONMENT and no `.env`: production, whose refusal is the whole message."""
        env = {k: v for k, v in os.environ.items() if k.lower() not in AuthSettings.model_fields}
        result = subprocess.run(
            [sys.executable, "-m", "auth_service.cli", "seed"],
            capture_output=True,
            text=True,
            env=env,
            cwd=tmp_path,
            timeout=60,
            check=False,
        )

        assert result.returncode == 1
        assert result.stderr.startswith("error: ENVIRONMENT is production")
        assert "  - SECRET_KEY is the development default\n" in result.stderr
        assert "Traceback" not in result.stderr
