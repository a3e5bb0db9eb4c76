"""Fixtures of the auth service's tests: an app per test on the run's database (tables
truncated after each test), an HTTP client, and helpers that create accounts through the API."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from dataclasses import dataclass
from email import message_from_bytes
from email import policy as email_policy
from email.message import EmailMessage
from typing import Any

import httpx
import pytest
from aiosmtpd.controller import Controller
from asgi_lifespan import LifespanManager
from fastapi import FastAPI
from sqlalchemy import insert
from sqlalchemy.ext.asyncio import create_async_engine

from auth_service.main import create_app
from auth_service.models import SigningKey
from auth_service.runtime import AuthRuntime
from auth_service.services.admins import AdminAccounts
from auth_service.services.signing_keys import KeyCipher, new_signing_key
from auth_service.settings import AuthSettings
from common.runtime import service_core, service_runtime
from common.testing import free_port, serve_app
from common.testing.plugin import RUN_ID

PASSWORD = "correct horse battery staple"
RESET_SUBJECT = "Reset your password"
VERIFY_SUBJECT = "Confirm your e-mail address"
API = "/api/v1"
MAIL_DEADLINE_SECONDS = 60.0


@dataclass(frozen=True)
class Account:
    id: str
    email: str
    password: str
    access_token: str
    refresh_token: str

    @property
    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.access_token}"}


def make_settings(
    database_url: str, redis_url: str, redis_prefix: str, **overrides: Any
) -> AuthSettings:
    values: dict[str, Any] = {
        "database_url": database_url,
        "redis_url": redis_url,
        "redis_key_prefix": redis_prefix,
        "environment": "test",
        "access_log": False,
        "log_level": "WARNING",
        "jwks_min_refresh_interval": 0,
        "signing_key_recheck_seconds": 0,
        # Outbox rows stay put for the tests to read; the relay has tests of its own.
        "audit_relay_enabled": False,
        "mail_backend": "log",
    }
    values.update(overrides)
    return AuthSettings(_env_file=None, **values)


@pytest.fixture
def settings_overrides() -> dict[str, Any]:
    """Override in a test module to change settings for its app."""
    return {}


@pytest.fixture
def settings(
    clean_database: str, redis_url: str, redis_prefix: str, settings_overrides: dict[str, Any]
) -> AuthSettings:
    return make_settings(clean_database, redis_url, redis_prefix, **settings_overrides)


@pytest.fixture(scope="session")
def signing_key_values() -> dict[str, Any]:
    """One RSA key for every test's app: generating a key per test would cost ~50 ms each."""
    settings = make_settings("", "", "")
    key = new_signing_key(KeyCipher(settings.secret_key.get_secret_value()), 2048)
    columns = (column.key for column in SigningKey.__table__.columns)
    return {name: value for name in columns if (value := getattr(key, name)) is not None}


@pytest.fixture
async def app(settings: AuthSettings, signing_key_values: dict[str, Any]) -> AsyncIterator[FastAPI]:
    engine = create_async_engine(settings.database_url)
    try:
        async with engine.begin() as connection:
            await connection.execute(insert(SigningKey).values(**signing_key_values))
    finally:
        await engine.dispose()
    application = create_app(settings)
    async with LifespanManager(application):
        yield application


@pytest.fixture
async def client(app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as http:
        yield http


@pytest.fixture
async def live(app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    """A client of the same app served by uvicorn on a loopback port: for attacks that depend
    on real concurrency (requests in flight at once over their own connections)."""
    # Idle connections expire before uvicorn's 5 s keep-alive timeout closes them under us.
    limits = httpx.Limits(max_connections=200, max_keepalive_connections=200, keepalive_expiry=1.0)
    async with (
        serve_app(app) as base_url,
        httpx.AsyncClient(base_url=base_url, limits=limits, timeout=60) as http,
    ):
        yield http


Register = Callable[..., Awaitable[Account]]


@pytest.fixture
def register(client: httpx.AsyncClient) -> Register:
    """Create an account through the API and sign it in."""
    counter = 0

    async def _register(
        email: str | None = None, password: str = PASSWORD, full_name: str | None = None
    ) -> Account:
        nonlocal counter
        counter += 1
        email = email or f"user{counter}@example.com"
        body: dict[str, Any] = {"email": email, "password": password}
        if full_name is not None:
            body["full_name"] = full_name
        created = await client.post(f"{API}/auth/register", json=body)
        assert created.status_code == 201, created.text
        tokens = await client.post(f"{API}/auth/login", json={"email": email, "password": password})
        assert tokens.status_code == 200, tokens.text
        return Account(
            id=created.json()["id"],
            email=email.lower(),
            password=password,
            access_token=tokens.json()["access_token"],
            refresh_token=tokens.json()["refresh_token"],
        )

    return _register


async def login(client: httpx.AsyncClient, email: str, password: str) -> int:
    """The status `POST /auth/login` answers to an e-mail and a password."""
    response = await client.post(f"{API}/auth/login", json={"email": email, "password": password})
    return response.status_code


async def sign_in(client: httpx.AsyncClient, email: str, password: str = PASSWORD) -> Account:
    """A fresh session of an existing account."""
    tokens = await client.post(f"{API}/auth/login", json={"email": email, "password": password})
    assert tokens.status_code == 200, tokens.text
    me = await client.get(
        f"{API}/auth/me", headers={"Authorization": f"Bearer {tokens.json()['access_token']}"}
    )
    return Account(
        id=me.json()["id"],
        email=email,
        password=password,
        access_token=tokens.json()["access_token"],
        refresh_token=tokens.json()["refresh_token"],
    )


@pytest.fixture
def make_admin(app: FastAPI, client: httpx.AsyncClient) -> Callable[..., Awaitable[Account]]:
    """Create a super_admin with the CLI's service function and sign it in."""

    async def _make_admin(email: str = "root@example.com") -> Account:
        async with service_core(app).database.sessionmaker() as session:
            user, _ = await AdminAccounts(
                session,
                hasher=service_runtime(app, AuthRuntime).hasher,
                policy=service_runtime(app, AuthRuntime).policy,
            ).create(
                email=email,
                password=PASSWORD,
            )
        tokens = await client.post(f"{API}/auth/login", json={"email": email, "password": PASSWORD})
        assert tokens.status_code == 200, tokens.text
        return Account(
            id=str(user.id),
            email=email,
            password=PASSWORD,
            access_token=tokens.json()["access_token"],
            refresh_token=tokens.json()["refresh_token"],
        )

    return _make_admin


@pytest.fixture
async def admin(make_admin: Callable[..., Awaitable[Account]]) -> Account:
    return await make_admin()


@pytest.fixture
def password() -> str:
    """The password `register` and `make_admin` give accounts unless told otherwise."""
    return PASSWORD


class MailRecorder:
    """aiosmtpd handler keeping every message a real SMTP client delivered."""

    def __init__(self) -> None:
        self.messages: list[EmailMessage] = []

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:  # noqa: N802
        self.messages.append(message_from_bytes(envelope.content, policy=email_policy.default))
        return "250 Message accepted for delivery"

    def to(self, address: str, subject: str | None = None) -> list[EmailMessage]:
        return [
            m
            for m in self.messages
            if m["To"] == address and (subject is None or m["Subject"] == subject)
        ]


@pytest.fixture(scope="module")
def smtp_server() -> Iterator[tuple[MailRecorder, int]]:
    recorder = MailRecorder()
    port = free_port()
    controller = Controller(recorder, hostname="127.0.0.1", port=port)
    controller.start()
    try:
        yield recorder, port
    finally:
        controller.stop()


@pytest.fixture(scope="module")
def celery_prefix() -> str:
    return f"test:{RUN_ID}:celery-{uuid.uuid4().hex[:8]}:"


@pytest.fixture(scope="module")
def worker_environment() -> dict[str, str]:
    """Override in a test module to give its Celery worker more settings."""
    return {}


@pytest.fixture(scope="module")
def celery_worker(
    database_url: str,
    redis_url: str,
    celery_prefix: str,
    smtp_server: tuple[MailRecorder, int],
    worker_environment: dict[str, str],
) -> Iterator[subprocess.Popen[bytes]]:
    """A real Celery worker process on the test broker, delivering mail to `smtp_server`."""
    env = {
        **os.environ,
        **worker_environment,
        "DATABASE_URL": database_url,
        "REDIS_URL": redis_url,
        "REDIS_KEY_PREFIX": celery_prefix,
        "ENVIRONMENT": "test",
        "MAIL_BACKEND": "smtp",
        "SMTP_HOST": "127.0.0.1",
        "SMTP_PORT": str(smtp_server[1]),
    }
    worker = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "celery",
            "-A",
            "auth_service.tasks",
            "worker",
            "-Q",
            "auth",
            "--pool",
            "solo",
            "--without-heartbeat",
            "--without-mingle",
            "--without-gossip",
            "--loglevel",
            "WARNING",
        ],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    try:
        yield worker
    finally:
        worker.terminate()
        try:
            worker.wait(timeout=10)
        except subprocess.TimeoutExpired:
            worker.kill()


async def wait_for_mail(
    recorder: MailRecorder,
    address: str,
    worker: subprocess.Popen[bytes],
    count: int = 1,
    subject: str | None = None,
) -> list[EmailMessage]:
    """Wait until `count` messages (of `subject`) reached `address` (the worker runs
    asynchronously; it starts with the module's first test, and its imports alone take
    seconds on a busy machine, hence the generous deadline)."""
    deadline = time.monotonic() + MAIL_DEADLINE_SECONDS
    while time.monotonic() < deadline:
        messages = recorder.to(address, subject)
        if len(messages) >= count:
            return messages
        if worker.poll() is not None:
            raise AssertionError(
                f"celery worker died: {worker.stderr.read() if worker.stderr else ''!r}"
            )
        await asyncio.sleep(0.05)
    raise AssertionError(f"no mail for {address} within {MAIL_DEADLINE_SECONDS:.0f} s")


# `mail_waiter(address, count=1, subject=RESET_SUBJECT)`: the messages, once they are there.
MailWaiter = Callable[..., Awaitable[list[EmailMessage]]]


@pytest.fixture
def mail_waiter(
    smtp_server: tuple[MailRecorder, int], celery_worker: subprocess.Popen[bytes]
) -> MailWaiter:
    async def _wait(
        address: str, count: int = 1, subject: str | None = RESET_SUBJECT
    ) -> list[EmailMessage]:
        return await wait_for_mail(smtp_server[0], address, celery_worker, count, subject)

    return _wait
