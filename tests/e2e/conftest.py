"""Whole-stack fixtures: the services as they run in production (auth served by uvicorn on
loopback with its outbox relay, the activity consumer as its own process), sharing a Redis
server of the test's own that a test may stop and start again."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
from asgi_lifespan import LifespanManager
from fastapi import FastAPI

from activity_service.main import create_app as create_activity_app
from activity_service.settings import ActivitySettings
from auth_service.main import create_app as create_auth_app
from auth_service.runtime import AuthRuntime
from auth_service.services.admins import AdminAccounts
from auth_service.settings import AuthSettings
from common.runtime import service_core, service_runtime
from common.testing import RedisServer, serve_app

PASSWORD = "correct horse battery staple"


@pytest.fixture
def redis_server() -> Iterator[RedisServer]:
    with RedisServer() as server:
        yield server


@dataclass
class Stack:
    auth: FastAPI
    auth_url: str
    activity: httpx.AsyncClient
    activity_settings: ActivitySettings
    consumer: subprocess.Popen[bytes]
    admin_headers: dict[str, str]


def consumer_process(database_url: str, redis_url: str, workdir: Path) -> subprocess.Popen[bytes]:
    env = {
        **os.environ,
        "DATABASE_URL": database_url,
        "REDIS_URL": redis_url,
        "ENVIRONMENT": "test",
        "LOG_LEVEL": "WARNING",
        "AUDIT_CONSUMER_BLOCK_MS": "100",
        "AUDIT_CONSUMER_CLAIM_IDLE_MS": "1000",
        "AUDIT_CONSUMER_CLAIM_INTERVAL_MS": "200",
        "AUDIT_CONSUMER_MAX_BACKOFF": "0.2",
    }
    return subprocess.Popen(
        [sys.executable, "-m", "activity_service.consumer"],
        env=env,
        cwd=workdir,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )


@pytest.fixture
async def stack(
    clean_database: str, redis_server: RedisServer, tmp_path: Path
) -> AsyncIterator[Stack]:
    auth = create_auth_app(
        AuthSettings(
            _env_file=None,
            database_url=clean_database,
            redis_url=redis_server.url,
            audit_relay_idle_interval=0.02,
            audit_relay_max_backoff=0.2,
            signing_key_recheck_seconds=0,
            environment="test",
            access_log=False,
            log_level="WARNING",
        )
    )
    consumer = consumer_process(clean_database, redis_server.url, tmp_path)
    try:
        async with serve_app(auth, lifespan=True) as auth_url:
            activity_settings = ActivitySettings(
                _env_file=None,
                database_url=clean_database,
                redis_url=redis_server.url,
                jwks_url=f"{auth_url}/.well-known/jwks.json",
                jwks_min_refresh_interval=0,
                environment="test",
                access_log=False,
                log_level="WARNING",
            )
            activity = create_activity_app(activity_settings)
            async with (
                LifespanManager(activity),
                httpx.AsyncClient(
                    transport=httpx.ASGITransport(app=activity), base_url="http://activity"
                ) as activity_client,
                httpx.AsyncClient(base_url=auth_url) as auth_client,
            ):
                async with service_core(auth).database.sessionmaker() as session:
                    await AdminAccounts(
                        session,
                        hasher=service_runtime(auth, AuthRuntime).hasher,
                        policy=service_runtime(auth, AuthRuntime).policy,
                    ).create(
                        email="root@example.com",
                        password=PASSWORD,
                    )
                login = await auth_client.post(
                    "/api/v1/auth/login", json={"email": "root@example.com", "password": PASSWORD}
                )
                token = login.json()["access_token"]
                yield Stack(
                    auth=auth,
                    auth_url=auth_url,
                    activity=activity_client,
                    activity_settings=activity_settings,
                    consumer=consumer,
                    admin_headers={"Authorization": f"Bearer {token}"},
                )
    finally:
        consumer.terminate()
        try:
            consumer.wait(timeout=15)
        except subprocess.TimeoutExpired:
            consumer.kill()
