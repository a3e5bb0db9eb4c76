"""Who is calling: the verified content of an access token."""

from __future__ import annotations

import uuid
from dataclasses import dataclass

SERVICE_SUBJECT_PREFIX = "service:"


@dataclass(frozen=True, slots=True)
class Principal:
    subject: str
    roles: frozenset[str]
    permissions: frozenset[str]
    token_id: str
    expires_at: int
    client_id: str | None = None
    session_id: str | None = None
    issued_at: int = 0

    @property
    def is_service(self) -> bool:
        return self.subject.startswith(SERVICE_SUBJECT_PREFIX)

    @property
    def user_id(self) -> uuid.UUID | None:
        """The user's id, or None for a service principal or a malformed subject."""
        if self.is_service:
            return None
        try:
            return uuid.UUID(self.subject)
        except ValueError:
            return None

    def has_permissions(self, *permissions: str) -> bool:
        return self.permissions.issuperset(permissions)
