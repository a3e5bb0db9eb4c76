"""The single statement that records a sign-in and starts its session (the account hot path)."""

from __future__ import annotations

import uuid
from datetime import timedelta
from typing import Any

from fastapi import FastAPI
from sqlalchemy import func, select, update

from auth_service.audit import Action, recorder
from auth_service.crud import AccountHotPath
from auth_service.models import AuditOutbox, RefreshToken, User
from common.audit import AuditEvent, user_actor
from common.db import utcnow
from common.runtime import service_core


def login_event(user_id: str) -> AuditEvent:
    return recorder.event(action=Action.LOGIN, actor=user_actor(user_id))


async def password_hash_of(app: FastAPI, user_id: str) -> str:
    async with service_core(app).database.sessionmaker() as session:
        found = await session.scalar(
            select(User.password_hash).where(User.id == uuid.UUID(user_id))
        )
    assert isinstance(found, str)
    return found


async def start(app: FastAPI, user_id: str, **overrides: Any) -> bool:
    now = utcnow()
    values: dict[str, Any] = {
        "verified_hash": await password_hash_of(app, user_id),
        "event": login_event(user_id),
        "user_id": uuid.UUID(user_id),
        "family_id": uuid.uuid4(),
        "token_hash": uuid.uuid4().hex * 2,
        "at": now,
        "expires_at": now + timedelta(days=1),
        "new_password_hash": None,
    }
    values.update(overrides)
    return await AccountHotPath(service_core(app).database.engine).start_session(**values)


async def outbox_has(app: FastAPI, event: AuditEvent) -> bool:
    async with service_core(app).database.sessionmaker() as session:
        found = await session.scalar(
            select(AuditOutbox.payload).where(AuditOutbox.event_id == event.id)
        )
    return found is not None and AuditEvent.from_json(found) == event


async def tokens_of(app: FastAPI, user_id: str) -> int:
    async with service_core(app).database.sessionmaker() as session:
        count = await session.scalar(
            select(func.count()).where(RefreshToken.user_id == uuid.UUID(user_id))
        )
    return int(count or 0)


class TestStartFamily:
    async def test_stamps_the_login_records_it_and_adds_the_first_token(
        self, app: FastAPI, register: Any
    ) -> None:
        account = await register()
        before = await tokens_of(app, account.id)
        event = login_event(account.id)

        assert await start(app, account.id, event=event) is True

        assert await tokens_of(app, account.id) == before + 1
        assert await outbox_has(app, event)

    async def test_stores_a_rehash_only_when_given_one(self, app: FastAPI, register: Any) -> None:
        account = await register()
        async with service_core(app).database.sessionmaker() as session:
            original = await session.scalar(
                select(User.password_hash).where(User.id == uuid.UUID(account.id))
            )

        await start(app, account.id)
        kept = await password_hash_of(app, account.id)
        await start(app, account.id, new_password_hash="$argon2id$rehashed")
        replaced = await password_hash_of(app, account.id)

        assert kept == original
        assert replaced == "$argon2id$rehashed"

    async def test_an_account_deactivated_meanwhile_gets_nothing(
        self, app: FastAPI, register: Any
    ) -> None:
        account = await register()
        async with service_core(app).database.sessionmaker() as session:
            await session.execute(
                update(User).where(User.id == uuid.UUID(account.id)).values(is_active=False)
            )
            await session.commit()
        before = await tokens_of(app, account.id)
        event = login_event(account.id)

        assert await start(app, account.id, event=event) is False

        assert await tokens_of(app, account.id) == before
        assert not await outbox_has(app, event)

    async def test_a_password_changed_meanwhile_gets_nothing(
        self, app: FastAPI, register: Any
    ) -> None:
        account = await register()
        verified = await password_hash_of(app, account.id)
        async with service_core(app).database.sessionmaker() as session:
            await session.execute(
                update(User)
                .where(User.id == uuid.UUID(account.id))
                .values(password_hash="$argon2id$changed")
            )
            await session.commit()
        before = await tokens_of(app, account.id)
        event = login_event(account.id)

        assert await start(app, account.id, event=event, verified_hash=verified) is False

        assert await tokens_of(app, account.id) == before
        assert not await outbox_has(app, event)
