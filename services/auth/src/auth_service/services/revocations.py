"""Access tokens that must stop working now, not at `exp` (common.security.revocation).

A revocation is written to `auth.revocation_outbox` in the transaction of the change that needs
it, so it exists if and only if the change committed, and survives a Redis outage; the relay
publishes it on the revocation stream that every service follows. Once the transaction has
committed, this process applies it to its own list at once and wakes the relay, so the next
request here is refused and the other services follow within milliseconds.

What revokes what:
- the account (`sub`): deactivation, a role taken away, password reset, sign-out everywhere,
  `create-admin --grant-existing`; a service client: `disable-service-client`;
- one session (`sid`): sign-out, a refresh token presented twice, each other session of a
  password change;
- a role (`role`): the role loses permissions.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from datetime import datetime
from functools import partial

from sqlalchemy.ext.asyncio import AsyncSession

from auth_service.crud import RevocationOutboxRepository
from auth_service.models import RevocationOutbox
from common.audit import OutboxRelay
from common.db import on_commit
from common.security import Revocation, RevocationList
from common.security.revocation import RevocationKind


class AccessRevocations:
    def __init__(
        self, *, local: RevocationList | None = None, relay: OutboxRelay | None = None
    ) -> None:
        """`local` and `relay` are the running service's; the CLI has neither (the service's
        relay publishes what the CLI wrote within its idle interval)."""
        self.local = local
        self.relay = relay

    def account(self, session: AsyncSession, user_id: uuid.UUID, *, at: datetime) -> None:
        self.subject(session, str(user_id), at=at)

    def subject(self, session: AsyncSession, subject: str, *, at: datetime) -> None:
        """Every token of `subject` (a user id, or `service:<name>`)."""
        self._revoke(session, "sub", subject, at=at)

    def sessions(
        self, session: AsyncSession, session_ids: Iterable[uuid.UUID], *, at: datetime
    ) -> None:
        for session_id in session_ids:
            self._revoke(session, "sid", str(session_id), at=at)

    def role(self, session: AsyncSession, name: str, *, at: datetime) -> None:
        self._revoke(session, "role", name, at=at)

    def _revoke(
        self, session: AsyncSession, kind: RevocationKind, value: str, *, at: datetime
    ) -> None:
        revocation = Revocation.starting(kind, value, at=at.timestamp())
        RevocationOutboxRepository(session).add(
            RevocationOutbox(event_id=uuid.uuid4(), payload=revocation.to_json())
        )
        on_commit(session, partial(self._committed, revocation))

    def _committed(self, revocation: Revocation) -> None:
        if self.local is not None:
            self.local.apply(revocation)
        if self.relay is not None:
            self.relay.wake()
