"""Sign-in with e-mail and password: the busiest write path, kept to three database round trips
and no transaction.

1. The attempt reserves its place in the throttle's counters (one atomic script in Redis):
   429 at the limit, and nothing is hashed for a refused attempt. Only the first refusal of a
   window is written to the audit trail; the others are counted in a metric.
2. One read of the account with its roles and permissions (no transaction), the connection
   back in the pool before hashing.
3. argon2id verification on the hashing threads; an unknown e-mail is verified against a dummy
   hash, so both failures cost the same and answer the same.
4. One statement that stamps the login, records its audit event and starts the session's
   refresh-token family, atomic on its own; an account deactivated in between gets nothing.
   A failure writes its audit event alone (the same cost whatever the reason).
5. The access token, from the account's claims read again right before signing
   (`services/access_tokens.py`), signed with the active key.
"""

from __future__ import annotations

import uuid
from datetime import timedelta

from sqlalchemy.exc import SQLAlchemyError

from auth_service.audit import Action, recorder, user_resource
from auth_service.crud import AccountHotPath
from auth_service.exceptions import (
    EmailNotVerified,
    HashingBusy,
    InvalidCredentials,
    LoginThrottled,
)
from auth_service.services.access_tokens import SessionTokens, UserTokens
from auth_service.services.attempts import LoginAttempts
from auth_service.services.passwords import PasswordHasher
from auth_service.services.tokens import new_opaque_token
from auth_service.settings import AuthSettings
from common.audit import anonymous, user_actor
from common.db import utcnow


class LoginService:
    """Built from the hot path, not from a session (decision 0007)."""

    def __init__(
        self,
        hot_path: AccountHotPath,
        *,
        settings: AuthSettings,
        hasher: PasswordHasher,
        attempts: LoginAttempts,
        tokens: UserTokens,
    ) -> None:
        self.hot_path = hot_path
        self.settings = settings
        self.hasher = hasher
        self.attempts = attempts
        self.tokens = tokens

    async def login(self, *, email: str, password: str) -> SessionTokens:
        refused = await self.attempts.reserve(email)
        if refused is not None:
            if refused.first:
                await self._failed(email, "throttled")
            raise LoginThrottled(retry_after=refused.retry_after)
        try:
            account = await self.hot_path.credentials(email)
            password_hash = account.password_hash if account is not None else None
            matches = await self.hasher.verify(password_hash, password)
        except (HashingBusy, SQLAlchemyError):
            # Shed or failed before any password was judged: not an attempt to count.
            await self.attempts.cancel(email)
            raise
        if account is None or not matches or not account.is_active:
            # The reservation stands: it was this failure, counted in advance.
            reason = (
                "unknown_email"
                if account is None
                else "wrong_password"
                if not matches
                else "account_inactive"
            )
            await self._failed(email, reason)
            raise InvalidCredentials
        await self.attempts.succeeded(email)
        if self.settings.require_email_verification and not account.email_verified:
            await self._failed(email, "email_not_verified")
            raise EmailNotVerified
        new_hash = (
            await self.hasher.hash(password)
            if self.hasher.needs_rehash(account.password_hash)
            else None
        )
        now = utcnow()
        family_id = uuid.uuid4()
        refresh, refresh_hash = new_opaque_token()
        event = recorder.event(
            action=Action.LOGIN,
            actor=user_actor(account.id),
            resource=user_resource(account.id),
            metadata={"session_id": str(family_id)},
        )
        started = await self.hot_path.start_session(
            user_id=account.id,
            family_id=family_id,
            token_hash=refresh_hash,
            at=now,
            expires_at=now + timedelta(seconds=self.settings.refresh_token_ttl_seconds),
            verified_hash=account.password_hash,
            new_password_hash=new_hash,
            event=event,
        )
        if not started:
            raise InvalidCredentials
        tokens = await self.tokens.session(account.id, family_id, refresh)
        if tokens is None:  # deactivated since; that revoked the session just started too
            raise InvalidCredentials
        return tokens

    async def _failed(self, email: str, reason: str) -> None:
        """The failure's event: the attempted e-mail is its only identifier, whether or not an
        account has it (the event is written in every case, so timing says nothing)."""
        await self.hot_path.record(
            recorder.event(
                action=Action.LOGIN,
                outcome="failure",
                actor=anonymous(),
                metadata={"email": email, "reason": reason},
            )
        )
