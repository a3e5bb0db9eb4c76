"""Celery tasks of the auth service. Worker: `celery -A auth_service.tasks worker -Q auth`.

The API does not import this module; it queues tasks by name (`services/notifications.py`), so
the web process never builds the worker's app.
"""

from __future__ import annotations

import asyncio
import logging
import smtplib
from collections.abc import Awaitable, Callable
from typing import TypeVar

from celery.schedules import crontab
from sqlalchemy.ext.asyncio import AsyncSession

from auth_service.mail import send
from auth_service.services.account_mail import AccountMailer, Delivery, message
from auth_service.services.notifications import (
    DELIVER_MAIL,
    ISSUE_ACCOUNT_MAIL,
    PURGE_EXPIRED,
    QUEUE,
    AccountMail,
)
from auth_service.services.purge import TokenPurge
from auth_service.settings import get_settings
from common.celery_app import create_celery_app
from common.db import Database

logger = logging.getLogger(__name__)
T = TypeVar("T")

settings = get_settings()
celery_app = create_celery_app(QUEUE, settings, include=["auth_service.tasks"])
celery_app.conf.beat_schedule = {
    "purge-expired-tokens": {"task": PURGE_EXPIRED, "schedule": crontab(minute=17)},
}


async def _in_session(work: Callable[[AsyncSession], Awaitable[T]]) -> T:
    """Run `work` with a session of a database made for this task run (each task runs its own
    event loop: `asyncio.run`)."""
    database = Database(settings)
    try:
        async with database.sessionmaker() as session:
            return await work(session)
    finally:
        await database.dispose()


@celery_app.task(name=ISSUE_ACCOUNT_MAIL)  # type: ignore[untyped-decorator]  # celery is untyped
def issue_account_mail(kind: str, email: str) -> None:
    """Decide and record (once); the delivery, which may need retries, is a task of its own so a
    retry never issues a second token."""
    delivery = asyncio.run(
        _in_session(
            lambda session: AccountMailer(session, settings=settings).prepare(
                AccountMail(kind), email
            )
        )
    )
    if delivery is not None:
        deliver_mail.apply_async(
            kwargs={"kind": str(delivery.kind), "to": delivery.to, "link": delivery.link},
            kwargsrepr=f"{{'kind': '{delivery.kind}', 'to': '[redacted]', 'link': '[redacted]'}}",
            queue=QUEUE,
        )


@celery_app.task(  # type: ignore[untyped-decorator]  # celery is untyped
    name=DELIVER_MAIL,
    autoretry_for=(smtplib.SMTPException, OSError),
    retry_backoff=True,
    retry_backoff_max=300,
    max_retries=6,
)
def deliver_mail(kind: str, to: str, link: str | None) -> None:
    send(settings, message(settings, Delivery(AccountMail(kind), to, link)))


@celery_app.task(name=PURGE_EXPIRED)  # type: ignore[untyped-decorator]  # celery is untyped
def purge_expired_tokens() -> int:
    removed = asyncio.run(_in_session(lambda session: TokenPurge(session).purge()))
    logger.info("purged %d expired tokens", removed)
    return removed
