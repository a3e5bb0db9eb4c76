"""Signing keys: encrypted at rest, rotated without breaking live tokens, retired on schedule."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import httpx
import jwt
import pytest
from fastapi import FastAPI
from sqlalchemy import select, update

from auth_service.models import KeyState, SigningKey
from auth_service.runtime import AuthRuntime
from auth_service.services.signing_keys import KeyCipher, SigningKeyService, SigningKeyUnavailable
from auth_service.settings import AuthSettings
from common.db import utcnow
from common.runtime import service_core, service_runtime

API = "/api/v1"


async def rotate(app: FastAPI) -> tuple[SigningKey, SigningKey | None]:
    """Rotate as the CLI does: a separate SigningKeyService, as another process would have."""
    settings: AuthSettings = service_runtime(app, AuthRuntime).settings
    async with service_core(app).database.sessionmaker() as session:
        return await SigningKeyService(session, settings=settings).rotate()


async def jwks_kids(client: httpx.AsyncClient) -> set[str]:
    response = await client.get("/.well-known/jwks.json")
    return {k["kid"] for k in response.json()["keys"]}


class TestKeyCipher:
    def test_round_trips_and_binds_the_kid(self) -> None:
        cipher = KeyCipher("a" * 40)
        blob = cipher.encrypt(b"private pem", kid="k1")
        assert b"private pem" not in blob
        assert cipher.decrypt(blob, kid="k1") == b"private pem"
        with pytest.raises(SigningKeyUnavailable):
            cipher.decrypt(blob, kid="k2")

    def test_another_secret_key_cannot_decrypt(self) -> None:
        blob = KeyCipher("a" * 40).encrypt(b"private pem", kid="k1")
        with pytest.raises(SigningKeyUnavailable):
            KeyCipher("b" * 40).decrypt(blob, kid="k1")


class TestStoredKeys:
    async def test_private_halves_are_encrypted_at_rest(self, app: FastAPI) -> None:
        async with service_core(app).database.sessionmaker() as session:
            [key] = (await session.scalars(select(SigningKey))).all()
        assert key.state == KeyState.ACTIVE
        assert b"PRIVATE KEY" not in key.private_key_encrypted
        assert "d" not in key.public_jwk

    async def test_starting_again_keeps_the_active_key(self, app: FastAPI) -> None:
        settings: AuthSettings = service_runtime(app, AuthRuntime).settings
        async with service_core(app).database.sessionmaker() as session:
            before = await SigningKeyService(session, settings=settings).ensure_active()
            after = await SigningKeyService(session, settings=settings).ensure_active()
        assert before == after


class TestRotation:
    async def test_new_tokens_use_the_new_key_and_old_tokens_keep_working(
        self, app: FastAPI, client: httpx.AsyncClient, register: Any
    ) -> None:
        account = await register()
        old_kid = jwt.get_unverified_header(account.access_token)["kid"]
        new_key, retired = await rotate(app)
        assert retired is not None
        assert retired.kid == old_kid
        assert await jwks_kids(client) == {old_kid, new_key.kid}
        # The running app signs with the new key at once, without a restart...
        login = await client.post(
            f"{API}/auth/login", json={"email": account.email, "password": account.password}
        )
        new_token = login.json()["access_token"]
        assert jwt.get_unverified_header(new_token)["kid"] == new_key.kid
        # ...its verifier learns the new kid on first sight, and the old token still verifies.
        for token in (new_token, account.access_token):
            me = await client.get(f"{API}/auth/me", headers={"Authorization": f"Bearer {token}"})
            assert me.status_code == 200

    async def test_a_retired_key_leaves_the_jwks_once_its_tokens_expired(
        self, app: FastAPI, client: httpx.AsyncClient
    ) -> None:
        _, retired = await rotate(app)
        assert retired is not None
        settings: AuthSettings = service_runtime(app, AuthRuntime).settings
        lifetime = timedelta(
            seconds=settings.access_token_ttl_seconds + settings.jwt_leeway_seconds
        )
        async with service_core(app).database.sessionmaker() as session:
            await session.execute(
                update(SigningKey)
                .where(SigningKey.kid == retired.kid)
                .values(retired_at=utcnow() - lifetime - timedelta(seconds=1))
            )
            await session.commit()
        assert retired.kid not in await jwks_kids(client)

    async def test_only_one_key_is_ever_active(self, app: FastAPI) -> None:
        await rotate(app)
        await rotate(app)
        async with service_core(app).database.sessionmaker() as session:
            states = list(await session.scalars(select(SigningKey.state)))
        assert sorted(states) == ["active", "retired", "retired"]
