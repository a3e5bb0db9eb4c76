"""Password reset by a one-time token sent by e-mail.

The request always gets the same answer, whether or not the address has an account
(`services/mail_requests.py`); the worker makes the token and mails it. The token is 256 random
bits, stored hashed, valid for PASSWORD_RESET_TTL_SECONDS and usable once; using it also voids
the account's other reset tokens, ends every session and revokes every access token.
"""

from __future__ import annotations

from typing import NoReturn

from sqlalchemy.ext.asyncio import AsyncSession

from auth_service.audit import Action, recorder, user_resource
from auth_service.crud import (
    RefreshTokenRepository,
    ResetTokenRepository,
    UserRepository,
    VerificationTokenRepository,
)
from auth_service.exceptions import InvalidResetToken
from auth_service.models import User
from auth_service.services.attempts import MailRequests
from auth_service.services.mail_requests import MailRequester
from auth_service.services.mailed_tokens import MailedTokens
from auth_service.services.notifications import AccountMail, MailQueue
from auth_service.services.passwords import PasswordHasher, PasswordPolicy
from auth_service.services.revocations import AccessRevocations
from auth_service.services.tokens import hash_opaque_token
from common.audit import anonymous, user_actor
from common.db import utcnow


class PasswordResetService:
    def __init__(
        self,
        session: AsyncSession,
        *,
        hasher: PasswordHasher,
        policy: PasswordPolicy,
        requests: MailRequests,
        queue: MailQueue,
        revocations: AccessRevocations,
    ) -> None:
        self.session = session
        self.hasher = hasher
        self.policy = policy
        self.revocations = revocations
        self.requester = MailRequester(session, limits=requests, queue=queue)
        self.users = UserRepository(session)
        self.reset_tokens = ResetTokenRepository(session)
        self.verification_tokens = VerificationTokenRepository(session)
        self.refresh_tokens = RefreshTokenRepository(session)
        self.tokens = MailedTokens(self.reset_tokens, self.users)

    async def request(self, *, email: str) -> None:
        await self.requester.request(
            AccountMail.PASSWORD_RESET, action=Action.PASSWORD_RESET_REQUESTED, email=email
        )

    async def check(self, *, token: str) -> User:
        """The account whose password the token could set now, else `InvalidResetToken`. Only
        reads: the page that shows the form asks first, and a mail scanner fetching the link
        changes nothing."""
        user = await self.tokens.usable(hash_opaque_token(token))
        if user is None:
            raise InvalidResetToken
        return user

    async def confirm(self, *, token: str, new_password: str) -> None:
        token_hash = hash_opaque_token(token)
        usable = await self.tokens.usable(token_hash)
        if usable is None:
            await self._refuse(token_hash)
        self.policy.check(new_password, email=usable.email)
        await self.session.commit()  # no connection held while hashing
        new_hash = await self.hasher.hash(new_password)
        # Checked again under the locks, since the token may have been used meanwhile.
        user = await self.tokens.usable(token_hash, lock=True)
        if user is None:
            await self._refuse(token_hash)
        now = utcnow()
        user.password_hash = new_hash
        user.password_changed_at = now
        # The link came through the mailbox: the address is the user's. Verification links
        # still pending (perhaps asked for by whoever registered the address first, with a
        # password of their own) die with the old password.
        user.email_verified_at = user.email_verified_at or now
        await self.reset_tokens.use_all_for_user(user.id, at=now)
        await self.verification_tokens.use_all_for_user(user.id, at=now)
        await self.refresh_tokens.revoke_for_user(user.id, at=now)
        self.revocations.account(self.session, user.id, at=now)
        recorder.record(
            self.session,
            action=Action.PASSWORD_RESET,
            actor=user_actor(user.id),
            resource=user_resource(user.id),
            metadata={"all_sessions_revoked": True},
        )
        await self.session.commit()

    async def _refuse(self, token_hash: str) -> NoReturn:
        owner = await self.reset_tokens.owner(token_hash)
        recorder.record(
            self.session,
            action=Action.PASSWORD_RESET,
            outcome="failure",
            actor=anonymous(),
            resource=user_resource(owner) if owner is not None else None,
            metadata={"reason": "invalid_reset_token"},
        )
        await self.session.commit()
        raise InvalidResetToken
