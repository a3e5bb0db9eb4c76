"""Proving that the owner of an account's address is the one who registered it: a one-time
link mailed to the address (on registration, and on request). With REQUIRE_EMAIL_VERIFICATION,
sign-in waits for it."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession

from auth_service import crud
from auth_service.audit import Action, recorder, user_resource
from auth_service.exceptions import InvalidVerificationToken
from auth_service.models import EmailVerificationToken
from auth_service.services.attempts import MailRequests
from auth_service.services.mail_requests import request_mail
from auth_service.services.mailed_tokens import MailedTokens
from auth_service.services.notifications import AccountMail, MailQueue
from auth_service.services.tokens import hash_opaque_token
from common.audit import anonymous, user_actor
from common.db import utcnow


class EmailVerificationService:
    def __init__(
        self,
        session: AsyncSession,
        *,
        tokens: MailedTokens[EmailVerificationToken],
        requests: MailRequests,
        queue: MailQueue,
    ) -> None:
        self.session = session
        self.tokens = tokens
        self.requests = requests
        self.queue = queue

    async def request(self, *, email: str) -> None:
        await request_mail(
            self.session,
            limits=self.requests,
            queue=self.queue,
            kind=AccountMail.EMAIL_VERIFICATION,
            action=Action.EMAIL_VERIFICATION_REQUESTED,
            email=email,
        )

    async def confirm(self, *, token: str) -> None:
        token_hash = hash_opaque_token(token)
        user = await self.tokens.usable(self.session, token_hash, lock=True)
        if user is None:
            owner = await crud.verification_tokens.owner(self.session, token_hash)
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
        await crud.verification_tokens.use_all_for_user(self.session, user.id, at=now)
        recorder.record(
            self.session,
            action=Action.EMAIL_VERIFIED,
            actor=user_actor(user.id),
            resource=user_resource(user.id),
        )
        await self.session.commit()
