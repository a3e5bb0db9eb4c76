"""Proving that the owner of an account's address is the one who registered it: a one-time
link mailed to the address (on registration, and on request). With REQUIRE_EMAIL_VERIFICATION,
sign-in waits for it."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession

from auth_service.audit import Action, recorder, user_resource
from auth_service.crud import UserRepository, VerificationTokenRepository
from auth_service.exceptions import InvalidVerificationToken
from auth_service.models import User
from auth_service.services.attempts import MailRequests
from auth_service.services.mail_requests import MailRequester
from auth_service.services.mailed_tokens import MailedTokens
from auth_service.services.notifications import AccountMail, MailQueue
from auth_service.services.tokens import hash_opaque_token
from common.audit import anonymous, user_actor
from common.db import utcnow


class EmailVerificationService:
    def __init__(self, session: AsyncSession, *, requests: MailRequests, queue: MailQueue) -> None:
        self.session = session
        self.requester = MailRequester(session, limits=requests, queue=queue)
        self.verification_tokens = VerificationTokenRepository(session)
        self.tokens = MailedTokens(self.verification_tokens, UserRepository(session))

    async def request(self, *, email: str) -> None:
        await self.requester.request(
            AccountMail.EMAIL_VERIFICATION,
            action=Action.EMAIL_VERIFICATION_REQUESTED,
            email=email,
        )

    async def check(self, *, token: str) -> User:
        """The account whose address the token could confirm now, else
        `InvalidVerificationToken`. Only reads: mail scanners fetch links, so the page asks for
        a button press to confirm."""
        user = await self.tokens.usable(hash_opaque_token(token))
        if user is None:
            raise InvalidVerificationToken
        return user

    async def confirm(self, *, token: str) -> None:
        token_hash = hash_opaque_token(token)
        user = await self.tokens.usable(token_hash, lock=True)
        if user is None:
            owner = await self.verification_tokens.owner(token_hash)
            recorder.record(
                self.session,
                action=Action.EMAIL_VERIFIED,
                outcome="failure",
                actor=anonymous(),
                resource=user_resource(owner) if owner is not None else None,
                metadata={"reason": "invalid_verification_token"},
            )
            await self.session.commit()
            raise InvalidVerificationToken
        now = utcnow()
        if user.email_verified_at is None:
            user.email_verified_at = now
        await self.verification_tokens.use_all_for_user(user.id, at=now)
        recorder.record(
            self.session,
            action=Action.EMAIL_VERIFIED,
            actor=user_actor(user.id),
            resource=user_resource(user.id),
        )
        await self.session.commit()
