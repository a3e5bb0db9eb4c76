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
    message = EmailMessage()
    message["From"] = settings.mail_from
    message["To"] = to
    message["Subject"] = "Reset your password"
    message.set_content(
        "Someone asked to reset the password of this account.\n\n"
        f"To choose a new password, open this link within {minutes} minutes:\n\n{link}\n\n"
        "If it was not you, ignore this message; your password stays as it is.\n"
    )
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
    smtp_class = smtplib.SMTP_SSL if settings.smtp_ssl else smtplib.SMTP
    with smtp_class(
        settings.smtp_host, settings.smtp_port, timeout=settings.smtp_timeout_seconds
    ) as smtp:
        if settings.smtp_starttls and not settings.smtp_ssl:
            smtp.starttls(context=ssl.create_default_context())
        if settings.smtp_username and settings.smtp_password:
            smtp.login(settings.smtp_username, settings.smtp_password.get_secret_value())
        smtp.send_message(message)
    logger.info("mail %r sent to %s", message["Subject"], message["To"])
