"""Background jobs, run by a real Celery worker process."""

from __future__ import annotations

import asyncio
import subprocess
import time
from datetime import timedelta
from typing import Any

from celery import Celery
from fastapi import FastAPI
from sqlalchemy import select, update

from auth_service.models import RefreshToken
from auth_service.runtime import AuthRuntime
from auth_service.services.notifications import PURGE_EXPIRED, QUEUE
from common.celery_app import create_celery_app
from common.db import utcnow
from common.runtime import service_core, service_runtime

WORKER_DEADLINE_SECONDS = 60.0


class TestPurgeExpiredTokens:
    async def test_removes_dead_refresh_tokens_and_keeps_live_ones(
        self,
        app: FastAPI,
        register: Any,
        celery_prefix: str,
        celery_worker: subprocess.Popen[bytes],
    ) -> None:
        await register(email="purge-dead@example.com")
        live = await register(email="purge-live@example.com")
        async with service_core(app).database.sessionmaker() as session:
            await session.execute(
                update(RefreshToken)
                .where(RefreshToken.user_id != live.id)
                .values(expires_at=utcnow() - timedelta(days=2))
            )
            await session.commit()
        producer: Celery = create_celery_app(
            QUEUE,
            service_runtime(app, AuthRuntime).settings.model_copy(
                update={"redis_key_prefix": celery_prefix}
            ),
        )
        try:
            producer.send_task(PURGE_EXPIRED, queue=QUEUE)
        finally:
            producer.close()
        # The worker starts with the test (its imports alone take seconds on a busy machine),
        # so the deadline is generous; a purge that ran returns at once.
        deadline = time.monotonic() + WORKER_DEADLINE_SECONDS
        owners: list[object] = []
        while time.monotonic() < deadline and celery_worker.poll() is None:
            async with service_core(app).database.sessionmaker() as session:
                # One statement: the owners and their count from the same snapshot (two
                # queries straddled the purge's commit once, and disagreed).
                owners = list(await session.scalars(select(RefreshToken.user_id)))
            if len(owners) == 1:
                break
            await asyncio.sleep(0.05)
        assert celery_worker.poll() is None, "the celery worker died"
        assert [str(owner) for owner in owners] == [live.id]
