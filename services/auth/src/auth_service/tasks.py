"""Celery tasks of the auth service. Worker: `celery -A auth_service.tasks worker -Q auth`.

The API does not import this module; it queues tasks by name (`services/notifications.py`), so
the web process never builds the worker's app.
"""

from __future__ import annotations

import asyncio
import logging
import smtplib
from datetime import timedelta

from celery.schedules import crontab
from sqlalchemy import delete, or_

from auth_service.mail import password_reset_message, send
from auth_service.models import PasswordResetToken, RefreshToken
from auth_service.services.notifications import PURGE_EXPIRED, QUEUE, SEND_RESET_MAIL
from auth_service.settings import get_settings
from common.celery_app import create_celery_app
from common.db import Database, utcnow

logger = logging.getLogger(__name__)

settings = get_settings()
celery_app = create_celery_app(QUEUE, settings, include=["auth_service.tasks"])
celery_app.conf.beat_schedule = {
    "purge-expired-tokens": {"task": PURGE_EXPIRED, "schedule": crontab(minute=17)},
}


@celery_app.task(  # type: ignore[untyped-decorator]  # celery is untyped
    name=SEND_RESET_MAIL,
    autoretry_for=(smtplib.SMTPException, OSError),
    retry_backoff=True,
    retry_backoff_max=300,
    max_retries=6,
)
def send_password_reset_email(to: str, link: str) -> None:
    send(settings, password_reset_message(settings, to=to, link=link))


async def _purge_expired() -> int:
    """Delete refresh tokens whose session expired or was revoked more than a day ago, and reset
    tokens past their expiry; neither can ever be accepted again."""
    database = Database(settings)
    cutoff = utcnow() - timedelta(days=1)
    try:
        async with database.sessionmaker() as session:
            refresh = await session.execute(
                delete(RefreshToken).where(
                    or_(RefreshToken.expires_at < cutoff, RefreshToken.revoked_at < cutoff)
                )
            )
            reset = await session.execute(
                delete(PasswordResetToken).where(PasswordResetToken.expires_at < cutoff)
            )
            await session.commit()
            return int(refresh.rowcount or 0) + int(reset.rowcount or 0)  # type: ignore[attr-defined]
    finally:
        await database.dispose()


@celery_app.task(name=PURGE_EXPIRED)  # type: ignore[untyped-decorator]  # celery is untyped
def purge_expired_tokens() -> int:
    removed = asyncio.run(_purge_expired())
    logger.info("purged %d expired tokens", removed)
    return removed
