from __future__ import annotations

from auth_service.models import RevocationOutbox
from common.db import Repository


class RevocationOutboxRepository(Repository[RevocationOutbox]):
    """Revocations waiting for the relay (`services/revocations.py`)."""

    model = RevocationOutbox
