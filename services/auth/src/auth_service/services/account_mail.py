"""The worker's side of account mail (`services/notifications.py` queues it): look the address
up, make the one-time token, record it, and say what to deliver. Nothing is sent for an address
without an active account (nor a verification link for one already verified), and the request
that queued it answered long before, so nobody learns which addresses have accounts.
"""

from __future__ import annotations

from dataclasses import dataclass
from email.message import EmailMessage

from sqlalchemy.ext.asyncio import AsyncSession

from auth_service import crud
from auth_service.audit import Action, recorder, user_resource
from auth_service.mail import (
    email_verification_message,
    password_reset_message,
    registration_attempt_message,
)
from auth_service.models import EmailVerificationToken, PasswordResetToken
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


def reset_tokens(settings: AuthSettings) -> MailedTokens[PasswordResetToken]:
    return MailedTokens(crud.reset_tokens, settings.password_reset_ttl_seconds)


def verification_tokens(settings: AuthSettings) -> MailedTokens[EmailVerificationToken]:
    return MailedTokens(crud.verification_tokens, settings.email_verification_ttl_seconds)


async def prepare(
    session: AsyncSession, settings: AuthSettings, kind: AccountMail, email: str
) -> Delivery | None:
    user = await crud.users.get_by_email(session, email)
    if user is None or not user.is_active:
        return None
    if kind is AccountMail.REGISTRATION_ATTEMPT:
        return Delivery(kind, user.email)
    if kind is AccountMail.EMAIL_VERIFICATION and user.email_verified:
        return None
    if kind is AccountMail.PASSWORD_RESET:
        token = reset_tokens(settings).issue(session, user)
        link = settings.password_reset_url.replace("{token}", token)
        action = Action.PASSWORD_RESET_MAILED
    else:
        token = verification_tokens(settings).issue(session, user)
        link = settings.email_verification_url.replace("{token}", token)
        action = Action.EMAIL_VERIFICATION_MAILED
    recorder.record(session, action=action, actor=SYSTEM, resource=user_resource(user.id))
    await session.commit()
    return Delivery(kind, user.email, link)


def message(settings: AuthSettings, delivery: Delivery) -> EmailMessage:
    if delivery.kind is AccountMail.REGISTRATION_ATTEMPT:
        return registration_attempt_message(settings, to=delivery.to)
    if delivery.link is None:
        raise ValueError(f"a {delivery.kind} mail needs its link")
    if delivery.kind is AccountMail.PASSWORD_RESET:
        return password_reset_message(settings, to=delivery.to, link=delivery.link)
    return email_verification_message(settings, to=delivery.to, link=delivery.link)
