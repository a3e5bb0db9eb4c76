"""Work that must happen only once a transaction has committed (never for a rollback): wake a
relay, tell in-process caches about a change. Registered on the session by the code that made
the change; run by the session's own commit.

    on_commit(session, lambda: relay.wake())
    await session.commit()   # runs it; a rollback drops it
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from sqlalchemy import event
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Session

_KEY = "common.db.after_commit"


def on_commit(session: AsyncSession | Session, callback: Callable[[], None]) -> None:
    """Run `callback` after the session's current transaction commits. It runs on the thread of
    the commit (the event loop's, for an AsyncSession); it must not block and not raise."""
    session.info.setdefault(_KEY, []).append(callback)


@event.listens_for(Session, "after_commit")
def _run(session: Session) -> None:
    callbacks: list[Callable[[], None]] = session.info.pop(_KEY, [])
    for callback in callbacks:
        callback()


@event.listens_for(Session, "after_rollback")
def _drop(session: Session, *_: Any) -> None:
    session.info.pop(_KEY, None)
