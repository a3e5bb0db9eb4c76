"""Asking for account mail (a reset link, a verification link): one path whatever the address.

The request is throttled per client address (429) and per e-mail address (beyond the cap it is
dropped silently), recorded with the attempted address as its only identifier, and queued for
the worker, which alone looks the address up (`services/account_mail.py`). So the answer, its
timing and what the request writes are the same whether or not the address has an account.
"""

from __future__ import annotations

import logging

from sqlalchemy.ext.asyncio import AsyncSession

from auth_service.audit import recorder
from auth_service.services.attempts import MailRequests
from auth_service.services.notifications import AccountMail, MailQueue
from auth_service.services.throttle import Refused
from common.audit import anonymous
from common.errors import RateLimited

logger = logging.getLogger(__name__)


class MailRequester:
    def __init__(self, session: AsyncSession, *, limits: MailRequests, queue: MailQueue) -> None:
        self.session = session
        self.limits = limits
        self.queue = queue

    async def request(self, kind: AccountMail, *, action: str, email: str) -> None:
        allowed = await self.limits.reserve(email)
        if isinstance(allowed, Refused):
            raise RateLimited(retry_after=allowed.retry_after)
        recorder.record(
            self.session,
            action=action,
            actor=anonymous(),
            metadata={"email": email, **({} if allowed else {"reason": "rate_limited"})},
        )
        await self.session.commit()
        if allowed:
            await queue_quietly(self.queue, kind, email)


async def queue_quietly(queue: MailQueue, kind: AccountMail, email: str) -> None:
    """Queue the mail; if the broker is down, log it: the answer must not differ (and the user
    can ask again)."""
    try:
        await queue(kind, email)
    except Exception:
        logger.exception("could not queue the %s mail", kind)
