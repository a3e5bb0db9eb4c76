from __future__ import annotations

from auth_service.models.base import AuthBase
from common.audit import OutboxMixin


class RevocationOutbox(OutboxMixin, AuthBase):
    """Access-token revocations (common.security.revocation), written in the transaction that
    makes them necessary (a deactivation, a sign-out everywhere) and relayed to the revocation
    stream, so none is lost if Redis is down at that moment."""

    __tablename__ = "revocation_outbox"
