from __future__ import annotations

from auth_service.models.base import AuthBase
from common.audit import OutboxMixin


class AuditOutbox(OutboxMixin, AuthBase):
    """Audit events of the auth service, written in the transaction of the change they record
    and relayed to the audit stream."""

    __tablename__ = "audit_outbox"
