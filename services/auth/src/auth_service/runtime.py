"""What the auth service builds at start-up, in one typed object: `AuthRuntime`, made by
`runtime(settings)` on the shared core (`common.runtime.ServiceCore`) and read by
`dependencies.py` through one typed dependency."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from dataclasses import dataclass

from auth_service.crud import AccountHotPath
from auth_service.models import RevocationOutbox
from auth_service.services.access_tokens import UserTokens
from auth_service.services.attempts import AddressLimit, LoginAttempts, MailRequests
from auth_service.services.notifications import QUEUE, CeleryMailQueue, MailQueue
from auth_service.services.passwords import PasswordHasher, PasswordPolicy
from auth_service.services.revocations import AccessRevocations
from auth_service.services.seed import SeedService
from auth_service.services.signing_keys import ActiveSigningKey, SigningKeyService
from auth_service.services.throttle import Limit, Throttle, ThrottleMetrics
from auth_service.services.tokens import AccessTokenIssuer
from auth_service.settings import AuthSettings
from common.audit import OutboxRelay, RelayMetrics, stop_relay
from common.celery_app import create_celery_app
from common.redis import KeySpace
from common.runtime import ServiceCore
from common.security import REVOCATION_FIELD
from common.security.revocation import MAX_TOKEN_LIFETIME_SECONDS


@dataclass(frozen=True, slots=True, kw_only=True)
class Limits:
    """The throttles (`services/attempts.py`). Sign-in fails closed while Redis is down; the
    others fail open: a password change needs a valid access token already, and the rest only
    spare inboxes, storage and the audit trail (the hashing queue's bound still caps the CPU)."""

    logins: LoginAttempts
    password_changes: LoginAttempts
    reset_requests: MailRequests
    verification_requests: MailRequests
    registration_notices: MailRequests
    registrations: AddressLimit
    client_failures: AddressLimit


@dataclass(frozen=True, slots=True, kw_only=True)
class AuthRuntime:
    core: ServiceCore
    settings: AuthSettings
    hasher: PasswordHasher
    policy: PasswordPolicy
    issuer: AccessTokenIssuer
    hot_path: AccountHotPath
    user_tokens: UserTokens
    revocations: AccessRevocations
    limits: Limits
    mail: MailQueue


def _limits(settings: AuthSettings, core: ServiceCore) -> Limits:
    keyspace = KeySpace(settings.redis_key_prefix)
    metrics = ThrottleMetrics(core.metrics) if core.metrics is not None else None
    strict = Throttle(
        core.redis, keyspace, fail_open=settings.login_throttle_fail_open, metrics=metrics
    )
    lenient = Throttle(core.redis, keyspace, fail_open=True, metrics=metrics)

    def login_attempts(throttle: Throttle) -> LoginAttempts:
        return LoginAttempts(
            throttle,
            max_per_account=settings.login_max_failures_per_account,
            max_per_ip=settings.login_max_failures_per_ip,
            window_seconds=settings.login_failure_window_seconds,
        )

    def mail_requests(prefix: str) -> MailRequests:
        return MailRequests(
            lenient, max_per_address=settings.password_reset_max_per_hour, prefix=prefix
        )

    return Limits(
        logins=login_attempts(strict),
        password_changes=login_attempts(lenient),
        reset_requests=mail_requests("reset"),
        verification_requests=mail_requests("verify"),
        registration_notices=mail_requests("notice"),
        registrations=AddressLimit(
            lenient,
            Limit(
                "register-ip",
                settings.registration_max_per_ip,
                settings.registration_window_seconds,
            ),
        ),
        client_failures=AddressLimit(
            lenient,
            Limit(
                "client-credentials-ip",
                settings.client_credentials_max_failures_per_ip,
                settings.login_failure_window_seconds,
            ),
        ),
    )


def _revocation_relay(settings: AuthSettings, core: ServiceCore) -> OutboxRelay:
    return OutboxRelay(
        engine=core.database.engine,
        outbox=RevocationOutbox,
        redis=core.redis,
        stream=KeySpace(settings.redis_key_prefix).key(settings.token_revocation_stream),
        maxlen=settings.audit_stream_maxlen,
        retention_seconds=MAX_TOKEN_LIFETIME_SECONDS,
        field=REVOCATION_FIELD,
        batch_size=settings.audit_relay_batch_size,
        idle_interval=settings.audit_relay_idle_interval,
        max_backoff=settings.audit_relay_max_backoff,
        metrics=RelayMetrics(core.metrics, prefix="revocation") if core.metrics else None,
    )


def runtime(
    settings: AuthSettings,
) -> Callable[[ServiceCore], AbstractAsyncContextManager[AuthRuntime]]:
    """The factory `create_service_app(runtime=...)` calls once the core exists: seeds roles
    and the first signing key, runs the revocation relay (always: revocations are not optional,
    whatever AUDIT_RELAY_ENABLED says), and closes what it opened."""

    @asynccontextmanager
    async def build(core: ServiceCore) -> AsyncIterator[AuthRuntime]:
        hasher = PasswordHasher(
            concurrency=settings.password_hash_concurrency,
            max_waiting=settings.password_hash_max_waiting,
        )
        relay = _revocation_relay(settings, core)
        producer = create_celery_app(QUEUE, settings)
        async with core.database.sessionmaker() as session:
            await SeedService(session).seed()
            await SigningKeyService(session, settings=settings).ensure_active()
        issuer = AccessTokenIssuer(
            settings, ActiveSigningKey(settings, core.database.engine), core.revocations
        )
        hot_path = AccountHotPath(core.database.engine)
        relay_task = asyncio.create_task(relay.run(), name="revocation-relay")
        try:
            yield AuthRuntime(
                core=core,
                settings=settings,
                hasher=hasher,
                policy=PasswordPolicy(min_length=settings.password_min_length),
                issuer=issuer,
                hot_path=hot_path,
                user_tokens=UserTokens(issuer, hot_path, client_id=settings.jwt_client_id),
                revocations=AccessRevocations(local=core.revocations, relay=relay),
                limits=_limits(settings, core),
                mail=CeleryMailQueue(producer),
            )
        finally:
            await stop_relay(relay, relay_task)
            producer.close()
            hasher.close()

    return build
