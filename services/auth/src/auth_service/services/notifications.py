"""Queueing the auth service's background jobs from the API, by task name.

Mail about an account is decided in the worker, not in the request: the API queues "a reset
link for this address, if it has an account" and answers at once, so the answer and its timing
are the same whether or not the address has an account (`services/account_mail.py` looks it
up, makes the token and queues the delivery). The addresses in the arguments are masked in
Celery's logs and in Flower (`kwargsrepr`), and so are the links of the delivery task.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from enum import StrEnum

from celery import Celery

QUEUE = "auth"
ISSUE_ACCOUNT_MAIL = "auth.issue_account_mail"
DELIVER_MAIL = "auth.deliver_mail"
PURGE_EXPIRED = "auth.purge_expired_tokens"


class AccountMail(StrEnum):
    PASSWORD_RESET = "password_reset"  # noqa: S105 (a kind of mail, not a secret)
    EMAIL_VERIFICATION = "email_verification"
    REGISTRATION_ATTEMPT = "registration_attempt"


MailQueue = Callable[[AccountMail, str], Awaitable[None]]
"""Queues one kind of mail for an address: (kind, address)."""


class CeleryMailQueue:
    def __init__(self, producer: Celery) -> None:
        self.producer = producer

    async def __call__(self, kind: AccountMail, email: str) -> None:
        # send_task talks to the broker synchronously; keep it off the event loop.
        await asyncio.to_thread(
            self.producer.send_task,
            ISSUE_ACCOUNT_MAIL,
            kwargs={"kind": str(kind), "email": email},
            kwargsrepr=f"{{'kind': '{kind}', 'email': '[redacted]'}}",
            queue=QUEUE,
        )
