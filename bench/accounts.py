"""Users for the auth benchmarks, created through the real API (so their passwords are hashed
with the service's own argon2 parameters), and their tokens; an administrator's token made the
way an operator makes one (the `create-admin` command, then a login through the API).

Throttle limits are raised by environment for the auth server: the benchmarks send thousands of
logins from one loopback address, which production would rightly throttle.
"""

from __future__ import annotations

import asyncio
import os
import secrets
import sys
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

import httpx

from bench.servers import Server, ServerFailed

AUTH_FACTORY = "auth_service.main:create_app"
REGISTER_PATH = "/api/v1/auth/register"
LOGIN_PATH = "/api/v1/auth/login"
ME_PATH = "/api/v1/auth/me"
SETUP_CONCURRENCY = 4

# Environment overrides of the auth server under load (on top of the production settings).
# The benchmark's users are all registered from one address, and 64 clients log in at once.
AUTH_OVERRIDES = {
    "LOGIN_MAX_FAILURES_PER_ACCOUNT": "1000000",
    "LOGIN_MAX_FAILURES_PER_IP": "1000000",
    "REGISTRATION_MAX_PER_IP": "1000000",
}


@dataclass(frozen=True, slots=True)
class Account:
    email: str
    password: str
    access_token: str = ""

    def credentials(self) -> dict[str, str]:
        return {"email": self.email, "password": self.password}


async def _sign_in(client: httpx.AsyncClient, account: Account) -> Account:
    login = await client.post(LOGIN_PATH, json=account.credentials())
    login.raise_for_status()
    token = login.json()["access_token"]
    if not isinstance(token, str):
        raise ValueError("login answered no access token")
    return Account(email=account.email, password=account.password, access_token=token)


async def create_accounts(server: Server, count: int, *, run_id: str) -> list[Account]:
    """Register `count` users and sign each in once; return them with an access token."""
    password = secrets.token_urlsafe(18)
    semaphore = asyncio.Semaphore(SETUP_CONCURRENCY)

    async def create(client: httpx.AsyncClient, index: int) -> Account:
        account = Account(email=f"user{index}@bench-{run_id}.example.com", password=password)
        async with semaphore:
            (await client.post(REGISTER_PATH, json=account.credentials())).raise_for_status()
            return await _sign_in(client, account)

    async with httpx.AsyncClient(base_url=server.url, timeout=30.0) as client:
        try:
            return list(await asyncio.gather(*(create(client, i) for i in range(count))))
        except (httpx.HTTPError, KeyError, ValueError) as exc:
            raise ServerFailed(f"creating bench users on {server.name} failed: {exc!r}") from exc


async def admin_token(server: Server, env: Mapping[str, str], *, run_id: str, workdir: Path) -> str:
    """An access token of a super_admin (every permission, `activity:read` included): the
    account is created with `python -m auth_service.cli create-admin` against the server's
    database (`env`: the server's settings), then signs in through `server`."""
    account = Account(email=f"admin@bench-{run_id}.example.com", password=secrets.token_urlsafe(18))
    process = await asyncio.create_subprocess_exec(
        *(sys.executable, "-m", "auth_service.cli", "create-admin", "--email", account.email),
        "--password-stdin",
        cwd=workdir,
        env={**os.environ, **env},
        stdin=asyncio.subprocess.PIPE,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
    )
    output, _ = await process.communicate(account.password.encode() + b"\n")
    if process.returncode != 0:
        raise ServerFailed(f"create-admin exited with {process.returncode}:\n{output.decode()}")
    async with httpx.AsyncClient(base_url=server.url, timeout=30.0) as client:
        try:
            return (await _sign_in(client, account)).access_token
        except (httpx.HTTPError, KeyError, ValueError) as exc:
            raise ServerFailed(f"signing the admin in on {server.name} failed: {exc!r}") from exc
