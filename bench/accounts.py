"""Users for the auth benchmarks, created through the real API (so their passwords are hashed
with the service's own argon2 parameters), and their tokens.

Throttle limits are raised by environment for the auth server: the benchmarks send thousands of
logins from one loopback address, which production would rightly throttle.
"""

from __future__ import annotations

import asyncio
import secrets
from dataclasses import dataclass

import httpx

from bench.servers import Server, ServerFailed

AUTH_FACTORY = "auth_service.main:create_app"
REGISTER_PATH = "/api/v1/auth/register"
LOGIN_PATH = "/api/v1/auth/login"
ME_PATH = "/api/v1/auth/me"
SETUP_CONCURRENCY = 4

# Environment overrides of the auth server under load (on top of the production settings).
AUTH_OVERRIDES = {
    "LOGIN_MAX_FAILURES_PER_ACCOUNT": "1000000",
    "LOGIN_MAX_FAILURES_PER_IP": "1000000",
}


@dataclass(frozen=True, slots=True)
class Account:
    email: str
    password: str
    access_token: str = ""

    def credentials(self) -> dict[str, str]:
        return {"email": self.email, "password": self.password}


async def create_accounts(server: Server, count: int, *, run_id: str) -> list[Account]:
    """Register `count` users and sign each in once; return them with an access token."""
    password = secrets.token_urlsafe(18)
    semaphore = asyncio.Semaphore(SETUP_CONCURRENCY)

    async def create(client: httpx.AsyncClient, index: int) -> Account:
        account = Account(email=f"user{index}@bench-{run_id}.example.com", password=password)
        async with semaphore:
            registered = await client.post(REGISTER_PATH, json=account.credentials())
            registered.raise_for_status()
            login = await client.post(LOGIN_PATH, json=account.credentials())
            login.raise_for_status()
        token = login.json()["access_token"]
        if not isinstance(token, str):
            raise ValueError("login answered no access token")
        return Account(email=account.email, password=password, access_token=token)

    async with httpx.AsyncClient(base_url=server.url, timeout=30.0) as client:
        try:
            return list(await asyncio.gather(*(create(client, i) for i in range(count))))
        except (httpx.HTTPError, KeyError, ValueError) as exc:
            raise ServerFailed(f"creating bench users on {server.name} failed: {exc!r}") from exc
