"""Fixtures of the activity service's tests: settings on the run's database (tables truncated
after each test) and the test's Redis prefix, the app with a JWKS serving the tests' own RSA
key, real RS256 tokens for any subject and permissions, audit events, and the real chain writer
and verifier to store and check them."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import asyncpg
import httpx
import pytest
from asgi_lifespan import LifespanManager
from fastapi import FastAPI
from redis.asyncio import Redis

from activity_service.main import create_app
from activity_service.services.chain_writer import AppendResult, ChainWriter
from activity_service.services.event_rows import NewEvent
from activity_service.services.verification import ChainVerifier
from activity_service.settings import ActivitySettings
from common.audit import Actor, AuditEvent, Resource
from common.db import Database
from common.redis import KeySpace
from common.security import JwksSource
from common.testing.tokens import TokenMinter

API = "/api/v1"
ISSUER = "https://auth.activity.test"
AUDIENCE = "activity-tests"
KID = "activity-test-key"


def make_settings(
    database_url: str, redis_url: str, redis_prefix: str, **overrides: Any
) -> ActivitySettings:
    values: dict[str, Any] = {
        "database_url": database_url,
        "redis_url": redis_url,
        "redis_key_prefix": redis_prefix,
        "environment": "test",
        "access_log": False,
        "log_level": "WARNING",
        "jwt_issuer": ISSUER,
        "jwt_audience": AUDIENCE,
        "activity_scan_batch_size": 10,  # several round trips even for a few rows
        "audit_consumer_batch_size": 50,
        "audit_consumer_block_ms": 50,
        "audit_consumer_claim_idle_ms": 200,
        "audit_consumer_claim_interval_ms": 50,
        "audit_consumer_max_deliveries": 3,
        "audit_consumer_max_backoff": 0.2,
    }
    values.update(overrides)
    return ActivitySettings(_env_file=None, **values)


@pytest.fixture
def settings_overrides() -> dict[str, Any]:
    """Override in a test module to change settings for its app."""
    return {}


@pytest.fixture
def settings(
    clean_database: str, redis_url: str, redis_prefix: str, settings_overrides: dict[str, Any]
) -> ActivitySettings:
    return make_settings(clean_database, redis_url, redis_prefix, **settings_overrides)


# --- tokens ---------------------------------------------------------------------------------


@pytest.fixture(scope="session")
def minter() -> TokenMinter:
    return TokenMinter.generate(issuer=ISSUER, audience=AUDIENCE, kid=KID)


@pytest.fixture(scope="session")
def jwks_document(minter: TokenMinter) -> dict[str, Any]:
    return minter.jwks()


@dataclass(frozen=True)
class Caller:
    """Someone with a real access token."""

    subject: str
    token: str

    @property
    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token}"}


MakeCaller = Callable[..., Caller]


@pytest.fixture(scope="session")
def make_caller(minter: TokenMinter) -> MakeCaller:
    """`make_caller(permissions=[...], subject=...)`: an RS256 access token shaped like the
    auth service's, for a new user unless `subject` says otherwise."""

    def make(*, permissions: Sequence[str] = (), subject: str | None = None) -> Caller:
        subject = subject or str(uuid.uuid4())
        return Caller(subject=subject, token=minter.mint(permissions=permissions, sub=subject))

    return make


@pytest.fixture
def alice(make_caller: MakeCaller) -> Caller:
    return make_caller()


@pytest.fixture
def bob(make_caller: MakeCaller) -> Caller:
    return make_caller()


@pytest.fixture
def auditor(make_caller: MakeCaller) -> Caller:
    """Holds `activity:read`, like the seeded admin role."""
    return make_caller(permissions=["activity:read"])


# --- the app --------------------------------------------------------------------------------


@pytest.fixture
async def app(settings: ActivitySettings, jwks_document: dict[str, Any]) -> AsyncIterator[FastAPI]:
    def jwks_source(*_: object) -> JwksSource:
        async def fetch() -> Mapping[str, Any]:
            return jwks_document

        return fetch

    application = create_app(settings, jwks_source=jwks_source)
    async with LifespanManager(application):
        yield application


@pytest.fixture
async def client(app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as http:
        yield http


# --- events, the writer, the verifier -------------------------------------------------------

MakeEvent = Callable[..., AuditEvent]


@pytest.fixture
def make_event() -> MakeEvent:
    """`make_event(actor_id=..., action=..., resource=(type, id), minutes_ago=..., **fields)`:
    a valid audit event; each call one second later than the previous unless told."""
    base = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
    counter = 0

    def make(
        *,
        actor_id: str | None = None,
        action: str = "auth.user.login",
        resource: tuple[str, str | None] | None = ("user", "u-1"),
        occurred_at: datetime | None = None,
        **fields: Any,
    ) -> AuditEvent:
        nonlocal counter
        counter += 1
        values: dict[str, Any] = {
            "service": "auth",
            "action": action,
            "actor": Actor(
                type="user", id=actor_id or "someone", ip="203.0.113.7", user_agent="tests/1.0"
            ),
            "resource": Resource(type=resource[0], id=resource[1]) if resource else None,
            "occurred_at": occurred_at or base + timedelta(seconds=counter),
            "request_id": f"req-{counter}",
            "metadata": {"n": counter},
        }
        values.update(fields)
        return AuditEvent(**values)

    return make


@pytest.fixture
async def database(settings: ActivitySettings) -> AsyncIterator[Database]:
    db = Database(settings)
    try:
        yield db
    finally:
        await db.dispose()


@pytest.fixture
def writer(database: Database) -> ChainWriter:
    return ChainWriter(database.engine)


Store = Callable[[Sequence[AuditEvent]], Awaitable[AppendResult]]


@pytest.fixture
def store(writer: ChainWriter) -> Store:
    """Append events to the chain with the real writer, as the consumer does."""

    async def _store(events: Sequence[AuditEvent]) -> AppendResult:
        return await writer.append([NewEvent.from_audit_event(e) for e in events])

    return _store


Verify = Callable[..., Awaitable[Any]]


@pytest.fixture
def verify_chain(database: Database, settings: ActivitySettings) -> Verify:
    async def _verify(**kwargs: Any) -> Any:
        async with database.sessionmaker() as session:
            verifier = ChainVerifier(session, batch_size=settings.activity_scan_batch_size)
            return await verifier.verify(**kwargs)

    return _verify


Sql = Callable[..., Awaitable[Any]]


@pytest.fixture
def sql(settings: ActivitySettings) -> Sql:
    """`await sql("SELECT ...", *args)`: rows of one statement, as the superuser (`postgres`),
    on a connection of its own."""

    async def run(statement: str, *args: Any) -> list[asyncpg.Record]:
        connection = await asyncpg.connect(settings.database_url.replace("+asyncpg", ""))
        try:
            return list(await connection.fetch(statement, *args))
        finally:
            await connection.close()

    return run


async def behind_the_triggers(sql: Sql, statement: str, *args: object) -> None:
    """Run `statement` with the append-only triggers disabled (as the superuser can), then put
    them back as the migration left them."""
    await sql("ALTER TABLE activity.event DISABLE TRIGGER USER")
    try:
        await sql(statement, *args)
    finally:
        for trigger in ("event_refuse_update_delete", "event_refuse_truncate"):
            await sql(f"ALTER TABLE activity.event ENABLE ALWAYS TRIGGER {trigger}")


@pytest.fixture
async def redis(redis_url: str) -> AsyncIterator[Redis]:
    client = Redis.from_url(redis_url, decode_responses=False)
    try:
        yield client
    finally:
        await client.aclose()


@pytest.fixture
def stream(settings: ActivitySettings) -> str:
    """The audit stream's key under the test's prefix."""
    return KeySpace(settings.redis_key_prefix).key(settings.audit_stream)


# --- the stream and the table, seen from outside ----------------------------------------------


@dataclass
class Trail:
    """The audit stream of the test and the table it ends in, as a test looks at them."""

    redis: Redis
    stream: str
    sql: Sql
    verify: Verify
    group: str = "activity"

    @property
    def dead_stream(self) -> str:
        return f"{self.stream}.dead"

    async def publish(self, *items: AuditEvent | dict[bytes, bytes]) -> list[bytes]:
        """XADD each event (or raw fields), as the outbox relay does; returns the entry ids."""
        async with self.redis.pipeline(transaction=False) as pipe:
            for item in items:
                fields = item if isinstance(item, dict) else {b"event": item.to_json().encode()}
                pipe.xadd(self.stream, fields)  # type: ignore[arg-type]  # bytes keys are fine
            return list(await pipe.execute())

    async def stored(self) -> list[uuid.UUID]:
        """Event ids of the table, in chain order."""
        rows = await self.sql("SELECT event_id FROM activity.event ORDER BY seq")
        return [row["event_id"] for row in rows]

    async def count(self) -> int:
        return int((await self.sql("SELECT count(*) AS n FROM activity.event"))[0]["n"])

    async def pending(self) -> dict[bytes, int]:
        """Entry id -> delivery count of every entry read and not acknowledged."""
        rows: Any = await self.redis.xpending_range(
            self.stream, self.group, min="-", max="+", count=100_000
        )
        return {row["message_id"]: row["times_delivered"] for row in rows}

    async def dead_letters(self) -> list[dict[bytes, bytes]]:
        entries: Any = await self.redis.xrange(self.dead_stream)
        return [fields for _, fields in entries]

    async def consumers(self) -> list[str]:
        rows = await self.redis.xinfo_consumers(self.stream, self.group)
        return sorted(row["name"].decode() for row in rows)


@pytest.fixture
def trail(redis: Redis, stream: str, sql: Sql, verify_chain: Verify) -> Trail:
    return Trail(redis=redis, stream=stream, sql=sql, verify=verify_chain)
