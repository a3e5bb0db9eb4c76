"""The auth service: `uvicorn auth_service.main:create_app --factory --port 8001`."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager
from typing import Any

from fastapi import FastAPI

from auth_service.models import AuditOutbox, RevocationOutbox
from auth_service.routes import API_ROUTERS, ROOT_ROUTERS
from auth_service.services.attempts import AddressLimit, LoginAttempts, MailRequests
from auth_service.services.notifications import QUEUE, CeleryMailQueue
from auth_service.services.passwords import PasswordHasher, PasswordPolicy
from auth_service.services.revocations import AccessRevocations
from auth_service.services.seed import seed_rbac
from auth_service.services.signing_keys import ActiveSigningKey, SigningKeyService
from auth_service.services.throttle import Limit, Throttle, ThrottleMetrics
from auth_service.services.tokens import AccessTokenIssuer
from auth_service.settings import AuthSettings, get_settings
from common.app import create_service_app
from common.audit import OutboxRelay, RelayMetrics, stop_relay
from common.celery_app import create_celery_app
from common.redis import KeySpace
from common.security import REVOCATION_FIELD, JwksSource
from common.security.revocation import MAX_TOKEN_LIFETIME_SECONDS

DESCRIPTION = """
Accounts, roles and permissions. Issues RS256 access tokens (RFC 9068) that every service
verifies against `/.well-known/jwks.json`, and rotating refresh tokens with reuse detection.
"""


def _jwks_from_database(app: FastAPI) -> JwksSource:
    """Auth verifies its own tokens from its own table, not over HTTP to itself."""

    async def fetch() -> Mapping[str, Any]:
        async with app.state.database.sessionmaker() as session:
            keys: SigningKeyService = app.state.key_service
            return await keys.jwks(session)

    return fetch


def create_app(settings: AuthSettings | None = None) -> FastAPI:
    settings = settings or get_settings()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        state = app.state
        state.password_hasher = hasher = PasswordHasher(
            concurrency=settings.password_hash_concurrency,
            max_waiting=settings.password_hash_max_waiting,
        )
        state.password_policy = PasswordPolicy(min_length=settings.password_min_length)
        state.key_service = keys = SigningKeyService(settings)
        state.token_issuer = AccessTokenIssuer(
            settings, ActiveSigningKey(settings, state.database.engine), state.revocations
        )
        registry = getattr(state, "metrics_registry", None)
        revocation_relay = OutboxRelay(
            engine=state.database.engine,
            outbox=RevocationOutbox,
            redis=state.redis,
            stream=KeySpace(settings.redis_key_prefix).key(settings.token_revocation_stream),
            maxlen=settings.audit_stream_maxlen,
            retention_seconds=MAX_TOKEN_LIFETIME_SECONDS,
            field=REVOCATION_FIELD,
            batch_size=settings.audit_relay_batch_size,
            idle_interval=settings.audit_relay_idle_interval,
            max_backoff=settings.audit_relay_max_backoff,
            metrics=RelayMetrics(registry, prefix="revocation") if registry is not None else None,
        )
        state.access_revocations = AccessRevocations(
            local=state.revocations, relay=revocation_relay
        )
        keyspace = KeySpace(settings.redis_key_prefix)
        metrics = ThrottleMetrics(registry) if registry is not None else None
        strict = Throttle(
            state.redis, keyspace, fail_open=settings.login_throttle_fail_open, metrics=metrics
        )
        lenient = Throttle(state.redis, keyspace, fail_open=True, metrics=metrics)

        def login_attempts(throttle: Throttle) -> LoginAttempts:
            return LoginAttempts(
                throttle,
                max_per_account=settings.login_max_failures_per_account,
                max_per_ip=settings.login_max_failures_per_ip,
                window_seconds=settings.login_failure_window_seconds,
            )

        state.login_attempts = login_attempts(strict)
        # Changing a password needs a valid access token already: during a Redis outage it runs
        # unthrottled rather than locking every signed-in user out of it. Same counters. The
        # other limits below fail open too: they spare inboxes, storage and the audit trail,
        # and the hashing queue's own bound (PASSWORD_HASH_MAX_WAITING) still caps the CPU.
        state.password_change_attempts = login_attempts(lenient)
        state.reset_requests = MailRequests(
            lenient, max_per_address=settings.password_reset_max_per_hour, prefix="reset"
        )
        state.verification_requests = MailRequests(
            lenient, max_per_address=settings.password_reset_max_per_hour, prefix="verify"
        )
        state.registration_notices = MailRequests(
            lenient, max_per_address=settings.password_reset_max_per_hour, prefix="notice"
        )
        state.registrations = AddressLimit(
            lenient,
            Limit(
                "register-ip",
                settings.registration_max_per_ip,
                settings.registration_window_seconds,
            ),
        )
        state.client_failures = AddressLimit(
            lenient,
            Limit(
                "client-credentials-ip",
                settings.client_credentials_max_failures_per_ip,
                settings.login_failure_window_seconds,
            ),
        )
        producer = create_celery_app(QUEUE, settings)
        state.mail_queue = CeleryMailQueue(producer)
        async with state.database.sessionmaker() as session:
            await seed_rbac(session)
            await keys.ensure_active(session)
        # Always on, whatever AUDIT_RELAY_ENABLED says: revocations are not optional.
        relay_task = asyncio.create_task(revocation_relay.run(), name="revocation-relay")
        try:
            yield
        finally:
            await stop_relay(revocation_relay, relay_task)
            producer.close()
            hasher.close()

    return create_service_app(
        settings,
        title="Auth service",
        description=DESCRIPTION,
        routers=API_ROUTERS,
        root_routers=ROOT_ROUTERS,
        lifespan=lifespan,
        jwks_source=_jwks_from_database,
        outbox=AuditOutbox,
    )
