"""Queueing the auth service's background jobs from the API, by task name.

The reset link holds a live token, so the task's arguments are masked in Celery's logs and in
Flower (`kwargsrepr`).
"""

from __future__ import annotations

import asyncio

from celery import Celery

QUEUE = "auth"
SEND_RESET_MAIL = "auth.send_password_reset_email"
PURGE_EXPIRED = "auth.purge_expired_tokens"


class CeleryResetMailer:
    def __init__(self, producer: Celery) -> None:
        self.producer = producer

    async def __call__(self, to: str, link: str) -> None:
        # send_task talks to the broker synchronously; keep it off the event loop.
        await asyncio.to_thread(
            self.producer.send_task,
            SEND_RESET_MAIL,
            kwargs={"to": to, "link": link},
            kwargsrepr="{'to': '[redacted]', 'link': '[redacted]'}",
            queue=QUEUE,
        )
