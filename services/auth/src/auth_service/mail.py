"""Outgoing mail. `MAIL_BACKEND=log` (the development default) writes the message to the log so a
developer can follow a reset link; `smtp` delivers it. Production refuses `log`."""

from __future__ import annotations

import logging
import smtplib
import ssl
from email.message import EmailMessage

from auth_service.settings import AuthSettings

logger = logging.getLogger(__name__)


def password_reset_message(settings: AuthSettings, *, to: str, link: str) -> EmailMessage:
    minutes = settings.password_reset_ttl_seconds // 60
    message = _message(settings, to, "Reset your password")
    message.set_content(
        "Someone asked to reset the password of this account.\n\n"
        f"To choose a new password, open this link within {minutes} minutes:\n\n{link}\n\n"
        "If it was not you, ignore this message; your password stays as it is.\n"
    )
    return message


def email_verification_message(settings: AuthSettings, *, to: str, link: str) -> EmailMessage:
    hours = settings.email_verification_ttl_seconds // 3600
    message = _message(settings, to, "Confirm your e-mail address")
    message.set_content(
        "Someone created an account with this e-mail address, or asked to confirm it.\n\n"
        f"To confirm that the address is yours, open this link within {hours} hours:\n\n"
        f"{link}\n\n"
        "If it was not you, ignore this message.\n"
    )
    return message


def registration_attempt_message(settings: AuthSettings, *, to: str) -> EmailMessage:
    message = _message(settings, to, "Someone tried to register with your address")
    message.set_content(
        "Someone tried to create a new account with this e-mail address, which already has "
        "one.\n\n"
        "If it was you, sign in instead; if you forgot your password, ask for a reset link.\n"
        "If it was not you, ignore this message; your account is unchanged.\n"
    )
    return message


def _message(settings: AuthSettings, to: str, subject: str) -> EmailMessage:
    message = EmailMessage()
    message["From"] = settings.mail_from
    message["To"] = to
    message["Subject"] = subject
    return message


def send(settings: AuthSettings, message: EmailMessage) -> None:
    if settings.mail_backend == "log":
        logger.info(
            "mail not sent (MAIL_BACKEND=log)\nTo: %s\nSubject: %s\n\n%s",
            message["To"],
            message["Subject"],
            message.get_content(),
        )
        return
    # A verifying context for both kinds of TLS: smtplib.SMTP_SSL without one checks neither the
    # certificate nor the host name, and hands reset links to anyone in between.
    context = ssl.create_default_context()
    smtp: smtplib.SMTP
    if settings.smtp_ssl:
        smtp = smtplib.SMTP_SSL(
            settings.smtp_host,
            settings.smtp_port,
            timeout=settings.smtp_timeout_seconds,
            context=context,
        )
    else:
        smtp = smtplib.SMTP(
            settings.smtp_host, settings.smtp_port, timeout=settings.smtp_timeout_seconds
        )
    with smtp:
        if settings.smtp_starttls and not settings.smtp_ssl:
            smtp.starttls(context=context)
        if settings.smtp_username and settings.smtp_password:
            smtp.login(settings.smtp_username, settings.smtp_password.get_secret_value())
        smtp.send_message(message)
    logger.info("mail %r sent to %s", message["Subject"], message["To"])
