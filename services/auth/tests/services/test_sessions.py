"""Revocations racing a refresh of the same account, over real connections, many times: every
revocation takes the account's row first, as a refresh does, so a session being refreshed at
that moment is revoked with the others (or its refresh waits and is refused). Never a 500, never
a deadlock, never a session left alive."""

from __future__ import annotations

import asyncio
import uuid
from datetime import timedelta
from typing import Any

import httpx
from fastapi import FastAPI

from auth_service.models import PasswordResetToken
from auth_service.services.tokens import new_opaque_token
from common.db import utcnow
from common.runtime import service_core

from ..conftest import Account, sign_in

API = "/api/v1"
TRIALS = 24


async def refresh(http: httpx.AsyncClient, token: str, *, after: float = 0) -> httpx.Response:
    await asyncio.sleep(after)
    return await http.post(f"{API}/auth/refresh", json={"refresh_token": token})


def offset(trial: int, *, step: float = 0.015) -> float:
    """When the racing refresh starts, swept over the revocation's first moments (a password
    change or reset hashes for tens of milliseconds before it revokes), so trials land in the
    window where both are in flight."""
    return trial * step


async def still_alive(http: httpx.AsyncClient, response: httpx.Response) -> bool:
    """Whether the refresh answered a session that can still be refreshed."""
    if response.status_code != 200:
        return False
    return (await refresh(http, response.json()["refresh_token"])).status_code == 200


async def reset_token_for(app: FastAPI, user_id: str) -> str:
    token, token_hash = new_opaque_token()
    async with service_core(app).database.sessionmaker() as session:
        session.add(
            PasswordResetToken(
                token_hash=token_hash,
                user_id=uuid.UUID(user_id),
                expires_at=utcnow() + timedelta(minutes=10),
            )
        )
        await session.commit()
    return token


class TestRevocationRacingRefresh:
    async def test_logout_all_leaves_no_session(
        self, live: httpx.AsyncClient, register: Any
    ) -> None:
        account: Account = await register()
        for trial in range(TRIALS):
            caller = await sign_in(live, account.email, account.password)
            other = await sign_in(live, account.email, account.password)
            refreshed, ended = await asyncio.gather(
                refresh(live, other.refresh_token, after=offset(trial, step=0.0005)),
                live.post(f"{API}/auth/logout-all", headers=caller.headers),
            )
            assert ended.status_code == 204, ended.text
            assert refreshed.status_code in (200, 401), refreshed.text
            assert not await still_alive(live, refreshed)

    async def test_password_change_leaves_only_the_callers_session(
        self, live: httpx.AsyncClient, register: Any, password: str
    ) -> None:
        account: Account = await register()
        passwords = [password, "another long passphrase"]
        for trial in range(TRIALS):
            current, new = passwords[trial % 2], passwords[(trial + 1) % 2]
            caller = await sign_in(live, account.email, current)
            other = await sign_in(live, account.email, current)
            refreshed, changed = await asyncio.gather(
                refresh(live, other.refresh_token, after=offset(trial)),
                live.put(
                    f"{API}/auth/me/password",
                    json={"current_password": current, "new_password": new},
                    headers=caller.headers,
                ),
            )
            assert changed.status_code == 204, changed.text
            assert refreshed.status_code in (200, 401), refreshed.text
            assert not await still_alive(live, refreshed)
            assert (await refresh(live, caller.refresh_token)).status_code == 200

    async def test_password_reset_leaves_no_session(
        self, live: httpx.AsyncClient, app: FastAPI, register: Any
    ) -> None:
        account: Account = await register()
        for trial in range(TRIALS):
            new_password = f"reset passphrase number {trial}"
            session = await sign_in(
                live,
                account.email,
                account.password if trial == 0 else f"reset passphrase number {trial - 1}",
            )
            token = await reset_token_for(app, account.id)
            refreshed, reset = await asyncio.gather(
                refresh(live, session.refresh_token, after=offset(trial)),
                live.post(
                    f"{API}/auth/password-reset/confirm",
                    json={"token": token, "new_password": new_password},
                ),
            )
            assert reset.status_code == 204, reset.text
            assert refreshed.status_code in (200, 401), refreshed.text
            assert not await still_alive(live, refreshed)

    async def test_deactivation_neither_deadlocks_nor_leaves_a_session(
        self, live: httpx.AsyncClient, register: Any, admin: Account
    ) -> None:
        account: Account = await register()
        for trial in range(TRIALS):
            session = await sign_in(live, account.email, account.password)
            refreshed, deactivated = await asyncio.gather(
                refresh(live, session.refresh_token, after=offset(trial, step=0.0005)),
                live.patch(
                    f"{API}/users/{account.id}", json={"is_active": False}, headers=admin.headers
                ),
            )
            assert deactivated.status_code == 200, deactivated.text
            assert refreshed.status_code in (200, 401), refreshed.text
            assert not await still_alive(live, refreshed)
            reactivated = await live.patch(
                f"{API}/users/{account.id}", json={"is_active": True}, headers=admin.headers
            )
            assert reactivated.status_code == 200
