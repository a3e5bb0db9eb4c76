"""Access tokens stop working the moment the change that ends them commits, not at `exp`; a new
token issued right after is good at once; and the revocations reach the stream every other
service follows."""

from __future__ import annotations

import asyncio
import time
import uuid
from typing import Any

import httpx
import jwt
import pytest
from fastapi import FastAPI
from redis.asyncio import Redis

from auth_service.models import PasswordResetToken
from auth_service.runtime import AuthRuntime
from auth_service.services.tokens import ClaimsOutdated, new_opaque_token
from auth_service.settings import AuthSettings
from common.db import utcnow
from common.runtime import service_core, service_runtime
from common.security import REVOCATION_FIELD, Revocation, TokenRevoked
from common.testing import assert_error

from ..conftest import PASSWORD, Account, sign_in

API = "/api/v1"


async def me(client: httpx.AsyncClient, account: Account) -> httpx.Response:
    return await client.get(f"{API}/auth/me", headers=account.headers)


class TestRevokedAtOnce:
    async def test_sign_out_everywhere_ends_every_access_token(
        self, client: httpx.AsyncClient, register: Any
    ) -> None:
        first: Account = await register()
        second = await sign_in(client, first.email, first.password)
        ended = await client.post(f"{API}/auth/logout-all", headers=first.headers)
        assert ended.status_code == 204
        for account in (first, second):
            assert_error(await me(client, account), 401, "token_revoked")

    async def test_a_session_signed_in_right_after_works_at_once(
        self, client: httpx.AsyncClient, register: Any
    ) -> None:
        """The revocation covers its whole second; the next token waits for the next one."""
        account: Account = await register()
        await client.post(f"{API}/auth/logout-all", headers=account.headers)
        again = await sign_in(client, account.email, account.password)
        assert (await me(client, again)).status_code == 200

    async def test_sign_out_ends_that_sessions_access_token_only(
        self, client: httpx.AsyncClient, register: Any
    ) -> None:
        first: Account = await register()
        second = await sign_in(client, first.email, first.password)
        await client.post(f"{API}/auth/logout", json={"refresh_token": first.refresh_token})
        assert_error(await me(client, first), 401, "token_revoked")
        assert (await me(client, second)).status_code == 200

    async def test_a_password_change_ends_the_other_sessions_tokens(
        self, client: httpx.AsyncClient, register: Any
    ) -> None:
        caller: Account = await register()
        other = await sign_in(client, caller.email, caller.password)
        changed = await client.put(
            f"{API}/auth/me/password",
            json={"current_password": caller.password, "new_password": "a new passphrase now"},
            headers=caller.headers,
        )
        assert changed.status_code == 204
        assert (await me(client, caller)).status_code == 200
        assert_error(await me(client, other), 401, "token_revoked")

    async def test_a_password_reset_ends_every_token(
        self, client: httpx.AsyncClient, app: FastAPI, register: Any
    ) -> None:
        account: Account = await register()
        token, token_hash = new_opaque_token()
        async with service_core(app).database.sessionmaker() as session:
            session.add(
                PasswordResetToken(
                    token_hash=token_hash,
                    user_id=uuid.UUID(account.id),
                    expires_at=utcnow().replace(year=utcnow().year + 1),
                )
            )
            await session.commit()
        reset = await client.post(
            f"{API}/auth/password-reset/confirm",
            json={"token": token, "new_password": "reset to something new"},
        )
        assert reset.status_code == 204
        assert_error(await me(client, account), 401, "token_revoked")
        again = await sign_in(client, account.email, "reset to something new")
        # The link came through the mailbox: the address counts as verified.
        assert (await me(client, again)).json()["email_verified"] is True

    async def test_a_reused_refresh_token_ends_its_sessions_access_token(
        self, client: httpx.AsyncClient, register: Any
    ) -> None:
        account: Account = await register()
        rotated = await client.post(
            f"{API}/auth/refresh", json={"refresh_token": account.refresh_token}
        )
        thief = Account(**{**account.__dict__, "access_token": rotated.json()["access_token"]})
        reused = await client.post(
            f"{API}/auth/refresh", json={"refresh_token": account.refresh_token}
        )
        assert_error(reused, 401, "refresh_token_reused")
        assert_error(await me(client, thief), 401, "token_revoked")

    async def test_taking_a_role_away_ends_the_accounts_tokens_but_not_its_sessions(
        self, client: httpx.AsyncClient, register: Any, admin: Account
    ) -> None:
        account: Account = await register()
        await client.put(
            f"{API}/users/{account.id}/roles",
            json={"roles": ["admin", "user"]},
            headers=admin.headers,
        )
        promoted = await sign_in(client, account.email, account.password)
        await client.put(
            f"{API}/users/{account.id}/roles", json={"roles": ["user"]}, headers=admin.headers
        )
        assert_error(await me(client, promoted), 401, "token_revoked")
        refreshed = await client.post(
            f"{API}/auth/refresh", json={"refresh_token": promoted.refresh_token}
        )
        assert refreshed.status_code == 200
        fresh = Account(**{**promoted.__dict__, "access_token": refreshed.json()["access_token"]})
        assert (await me(client, fresh)).json()["roles"] == ["user"]

    async def test_a_role_losing_permissions_ends_the_tokens_that_carry_it(
        self, client: httpx.AsyncClient, register: Any, admin: Account
    ) -> None:
        created = await client.post(
            f"{API}/roles",
            json={"name": "auditor", "permissions": ["activity:read"]},
            headers=admin.headers,
        )
        account: Account = await register()
        await client.put(
            f"{API}/users/{account.id}/roles", json={"roles": ["auditor"]}, headers=admin.headers
        )
        holder = await sign_in(client, account.email, account.password)
        bystander: Account = await register()
        await client.patch(
            f"{API}/roles/{created.json()['id']}", json={"permissions": []}, headers=admin.headers
        )
        assert_error(await me(client, holder), 401, "token_revoked")
        assert (await me(client, bystander)).status_code == 200

    async def test_granting_more_revokes_nothing(
        self, client: httpx.AsyncClient, register: Any, admin: Account
    ) -> None:
        account: Account = await register()
        await client.put(
            f"{API}/users/{account.id}/roles",
            json={"roles": ["admin", "user"]},
            headers=admin.headers,
        )
        assert (await me(client, account)).status_code == 200

    @pytest.mark.parametrize(
        "changes",
        [
            [{"name": "auditor_2", "permissions": []}],
            [{"name": "auditor_2"}, {"permissions": []}],
        ],
        ids=["at-once", "rename-then-strip"],
    )
    async def test_a_renamed_role_still_revokes_the_tokens_that_carry_its_old_name(
        self,
        client: httpx.AsyncClient,
        app: FastAPI,
        register: Any,
        admin: Account,
        changes: list[dict[str, Any]],
    ) -> None:
        created = await client.post(
            f"{API}/roles",
            json={"name": "auditor", "permissions": ["activity:read"]},
            headers=admin.headers,
        )
        account: Account = await register()
        await client.put(
            f"{API}/users/{account.id}/roles", json={"roles": ["auditor"]}, headers=admin.headers
        )
        holder = await sign_in(client, account.email, account.password)
        for change in changes:
            edited = await client.patch(
                f"{API}/roles/{created.json()['id']}", json=change, headers=admin.headers
            )
            assert edited.status_code == 200, edited.text
        with pytest.raises(TokenRevoked):
            await service_core(app).token_verifier.verify(holder.access_token)


async def keep_signing_in(
    http: httpx.AsyncClient, email: str, stop: asyncio.Event, tokens: list[str]
) -> None:
    while not stop.is_set():
        login = await http.post(f"{API}/auth/login", json={"email": email, "password": PASSWORD})
        if login.status_code == 200:
            tokens.append(login.json()["access_token"])


class TestClaimsReadBeforeARevocation:
    """A token is only as fresh as the read of its claims: its `iat` is that read, so a
    revocation committed after it refuses the token, however late the token is signed."""

    async def test_a_token_built_from_claims_read_before_a_demotion_is_refused(
        self, app: FastAPI, register: Any
    ) -> None:
        account: Account = await register()
        issuer = service_runtime(app, AuthRuntime).issuer
        read_at = time.time() - 1.5  # the claims were read, then the password was hashed...
        service_core(app).revocations.apply(
            Revocation.starting("sub", account.id, at=time.time() - 1)
        )
        with pytest.raises(ClaimsOutdated):
            await issuer.issue(
                subject=account.id,
                roles=["admin"],
                permissions=["users:write"],
                client_id="first-party",
                claims_read_at=read_at,
            )

    async def test_logins_racing_a_demotion_never_keep_the_old_rights(
        self, live: httpx.AsyncClient, app: FastAPI, register: Any, admin: Account
    ) -> None:
        """Concurrent sign-ins of an administrator while it is demoted: every token they get
        either says `user` only or is refused."""
        for round_ in range(3):
            account: Account = await register(email=f"demoted{round_}@example.com")
            await live.put(
                f"{API}/users/{account.id}/roles",
                json={"roles": ["admin", "user"]},
                headers=admin.headers,
            )
            tokens: list[str] = []
            stop = asyncio.Event()
            loops = [
                asyncio.create_task(keep_signing_in(live, account.email, stop, tokens))
                for _ in range(4)
            ]
            await asyncio.sleep(0.3)
            # Demote just before a second ends, so that sign-ins in flight finish in the next
            # second, the one the revocation starts at: a token stamped at signing time would
            # pass it.
            await asyncio.sleep((0.92 - time.time() % 1) % 1)
            demoted = await live.put(
                f"{API}/users/{account.id}/roles", json={"roles": ["user"]}, headers=admin.headers
            )
            assert demoted.status_code == 200
            await asyncio.sleep(0.5)
            stop.set()
            await asyncio.gather(*loops)
            stale = 0
            for token in tokens:
                roles = jwt.decode(token, options={"verify_signature": False})["roles"]
                if "admin" in roles:
                    stale += 1
                    with pytest.raises(TokenRevoked):
                        await service_core(app).token_verifier.verify(token)
            assert stale, "no sign-in overlapped the demotion; the race was not exercised"


class TestConnectionsUnderARefreshBurst:
    @pytest.fixture
    def settings_overrides(self) -> dict[str, Any]:
        # A small pool and a signing key asked for on every token: a refresh that held its
        # connection while taking a second one for the key deadlocked the pool.
        return {"db_pool_size": 4, "db_pool_timeout": 5, "signing_key_recheck_seconds": 0}

    async def test_more_refreshes_at_once_than_connections_all_succeed(
        self, live: httpx.AsyncClient, register: Any
    ) -> None:
        account: Account = await register()
        sessions = [await sign_in(live, account.email, account.password) for _ in range(16)]
        for _ in range(2):
            responses = await asyncio.gather(
                *(
                    live.post(f"{API}/auth/refresh", json={"refresh_token": s.refresh_token})
                    for s in sessions
                )
            )
            assert [r.status_code for r in responses] == [200] * len(sessions), [
                r.text for r in responses if r.status_code != 200
            ][:2]
            sessions = [
                Account(**{**s.__dict__, "refresh_token": r.json()["refresh_token"]})
                for s, r in zip(sessions, responses, strict=True)
            ]


class TestPublished:
    async def test_revocations_reach_the_stream_every_service_follows(
        self, client: httpx.AsyncClient, register: Any, settings: AuthSettings
    ) -> None:
        account: Account = await register()
        redis = Redis.from_url(settings.redis_url, decode_responses=True)
        stream = f"{settings.redis_key_prefix}{settings.token_revocation_stream}"
        try:
            await client.post(f"{API}/auth/logout-all", headers=account.headers)
            async with asyncio.timeout(2):
                while not (entries := await redis.xrange(stream)):
                    await redis.xread({stream: "0-0"}, block=500)
        finally:
            await redis.aclose()
        [(_, fields)] = entries
        assert fields is not None
        revocation = Revocation.from_json(str(fields[REVOCATION_FIELD]))
        assert (revocation.kind, revocation.value) == ("sub", account.id)
