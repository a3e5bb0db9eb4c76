"""Password reset by a one-time token sent by e-mail.

The request always gets the same answer, whether or not the address has an account. The token
is 256 random bits, stored hashed, valid for PASSWORD_RESET_TTL_SECONDS and usable once; using
it also voids the account's other reset tokens and ends every session.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from datetime import timedelta
from typing import NoReturn

from sqlalchemy.ext.asyncio import AsyncSession

from auth_service import crud
from auth_service.audit import Action, anonymous, recorder, user_actor, user_resource
from auth_service.exceptions import InvalidResetToken
from auth_service.models import PasswordResetToken, User
from auth_service.services.attempts import ResetRequests
from auth_service.services.passwords import PasswordHasher, PasswordPolicy
from auth_service.services.revocations import AccessRevocations
from auth_service.services.throttle import Refused
from auth_service.services.tokens import hash_opaque_token, new_opaque_token
from auth_service.settings import AuthSettings
from common.client import ClientInfo
from common.db import utcnow
from common.errors import RateLimited

logger = logging.getLogger(__name__)

ResetMailer = Callable[[str, str], Awaitable[None]]
"""Queues the reset mail: (recipient, reset link)."""


class PasswordResetService:
    def __init__(
        self,
        session: AsyncSession,
        *,
        settings: AuthSettings,
        hasher: PasswordHasher,
        policy: PasswordPolicy,
        requests: ResetRequests,
        send_mail: ResetMailer,
        revocations: AccessRevocations,
    ) -> None:
        self.session = session
        self.settings = settings
        self.hasher = hasher
        self.policy = policy
        self.requests = requests
        self.send_mail = send_mail
        self.revocations = revocations

    async def request(self, *, email: str, client: ClientInfo) -> None:
        allowed = await self.requests.reserve(email, client)
        if isinstance(allowed, Refused):
            raise RateLimited(retry_after=allowed.retry_after)
        user = await crud.users.get_by_email(self.session, email)
        sending = allowed and user is not None and user.is_active
        # Recorded whatever happens, so every request writes the same (the answer and its
        # timing stay the same too); the attempted address is the only identifier.
        recorder.record(
            self.session,
            action=Action.PASSWORD_RESET_REQUESTED,
            actor=anonymous(client),
            resource=user_resource(user.id) if sending and user is not None else None,
            metadata={
                "email": email,
                "mail_sent": sending,
                **({} if allowed else {"reason": "rate_limited"}),
            },
        )
        if not sending or user is None:
            await self.session.commit()
            return
        token, token_hash = new_opaque_token()
        self.session.add(
            PasswordResetToken(
                token_hash=token_hash,
                user_id=user.id,
                expires_at=utcnow() + timedelta(seconds=self.settings.password_reset_ttl_seconds),
            )
        )
        await self.session.commit()
        link = self.settings.password_reset_url.replace("{token}", token)
        try:
            await self.send_mail(user.email, link)
        except Exception:
            # The answer must not differ for existing accounts; the user can ask again.
            logger.exception("could not queue the password-reset mail")

    async def confirm(self, *, token: str, new_password: str, client: ClientInfo) -> None:
        token_hash = hash_opaque_token(token)
        usable = await self._usable(token_hash)
        if usable is None:
            await self._refuse(token_hash, client)
        self.policy.check(new_password, email=usable.email)
        await self.session.commit()  # no connection held while hashing
        new_hash = await self.hasher.hash(new_password)
        # Checked again under the locks (the account's row first, then the token's: the lock
        # order of every revocation), since the token may have been used meanwhile.
        user = await self._usable(token_hash, lock=True)
        if user is None:
            await self._refuse(token_hash, client)
        now = utcnow()
        user.password_hash = new_hash
        user.password_changed_at = now
        await crud.reset_tokens.use_all_for_user(self.session, user.id, at=now)
        await crud.refresh_tokens.revoke_for_user(self.session, user.id, at=now)
        self.revocations.account(self.session, user.id, at=now)
        recorder.record(
            self.session,
            action=Action.PASSWORD_RESET,
            actor=user_actor(user.id, client),
            resource=user_resource(user.id),
            metadata={"all_sessions_revoked": True},
        )
        await self.session.commit()

    async def _usable(self, token_hash: str, *, lock: bool = False) -> User | None:
        """The account the token may reset now: the token unused and unexpired, the account
        active."""
        owner = await crud.reset_tokens.owner(self.session, token_hash)
        if owner is None:
            return None
        if lock:
            user = await crud.users.get_for_update(self.session, owner)
            reset = await crud.reset_tokens.get_by_hash_for_update(self.session, token_hash)
        else:
            user = await crud.users.get(self.session, owner)
            reset = await crud.reset_tokens.get_by_hash(self.session, token_hash)
        if (
            reset is None
            or reset.used_at is not None
            or reset.expires_at <= utcnow()
            or user is None
            or not user.is_active
        ):
            return None
        return user

    async def _refuse(self, token_hash: str, client: ClientInfo) -> NoReturn:
        owner = await crud.reset_tokens.owner(self.session, token_hash)
        recorder.record(
            self.session,
            action=Action.PASSWORD_RESET,
            outcome="failure",
            actor=anonymous(client),
            resource=user_resource(owner) if owner is not None else None,
            metadata={"reason": "invalid_reset_token"},
        )
        await self.session.commit()
        raise InvalidResetToken
