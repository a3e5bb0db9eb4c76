"""The worker's side of account mail (`services/notifications.py` queues it): look the address
up, make the one-time token, record it, and say what to deliver. Nothing is sent for an address
without an active account (nor a verification link for one already verified), and the request
that queued it answered long before, so nobody learns which addresses have accounts.
"""

from __future__ import annotations

from dataclasses import dataclass
from email.message import EmailMessage

from sqlalchemy.ext.asyncio import AsyncSession

from auth_service.audit import Action, recorder, user_resource
from auth_service.crud import (
    ResetTokenRepository,
    UserRepository,
    VerificationTokenRepository,
)
from auth_service.mail import (
    email_verification_message,
    password_reset_message,
    registration_attempt_message,
)
from auth_service.services.mailed_tokens import MailedTokens
from auth_service.services.notifications import AccountMail
from auth_service.settings import AuthSettings
from common.audit import SYSTEM


@dataclass(frozen=True, slots=True)
class Delivery:
    """A mail to send; `link` holds a live token (never logged)."""

    kind: AccountMail
    to: str
    link: str | None = None


class AccountMailer:
    def __init__(self, session: AsyncSession, *, settings: AuthSettings) -> None:
        self.session = session
        self.settings = settings
        self.users = UserRepository(session)
        self.resets = MailedTokens(ResetTokenRepository(session), self.users)
        self.verifications = MailedTokens(VerificationTokenRepository(session), self.users)

    async def prepare(self, kind: AccountMail, email: str) -> Delivery | None:
        user = await self.users.get_by_email(email)
        if user is None or not user.is_active:
            return None
        if kind is AccountMail.REGISTRATION_ATTEMPT:
            return Delivery(kind, user.email)
        if kind is AccountMail.EMAIL_VERIFICATION and user.email_verified:
            return None
        settings = self.settings
        if kind is AccountMail.PASSWORD_RESET:
            token = self.resets.issue(user, ttl_seconds=settings.password_reset_ttl_seconds)
            link = settings.password_reset_link(token)
            action = Action.PASSWORD_RESET_MAILED
        else:
            token = self.verifications.issue(
                user, ttl_seconds=settings.email_verification_ttl_seconds
            )
            link = settings.email_verification_link(token)
            action = Action.EMAIL_VERIFICATION_MAILED
        recorder.record(self.session, action=action, actor=SYSTEM, resource=user_resource(user.id))
        await self.session.commit()
        return Delivery(kind, user.email, link)


def message(settings: AuthSettings, delivery: Delivery) -> EmailMessage:
    if delivery.kind is AccountMail.REGISTRATION_ATTEMPT:
        return registration_attempt_message(settings, to=delivery.to)
    if delivery.link is None:
        raise ValueError(f"a {delivery.kind} mail needs its link")
    if delivery.kind is AccountMail.PASSWORD_RESET:
        return password_reset_message(settings, to=delivery.to, link=delivery.link)
    return email_verification_message(settings, to=delivery.to, link=delivery.link)
