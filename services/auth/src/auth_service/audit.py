"""What the auth service writes to the audit trail, and the helpers that describe who acted.

Every security-relevant action is recorded in the transaction of the change it records (see
`common.audit.outbox`). Passwords and tokens never enter an event; a failed login carries the
attempted e-mail as its only identifier.
"""

# ruff: noqa: S105  (action names such as "auth.password.changed" are not secrets)
from __future__ import annotations

import uuid
from typing import Final

from auth_service.models import AuditOutbox
from common.audit import AuditRecorder, Resource

SERVICE: Final = "auth"

recorder = AuditRecorder(SERVICE, AuditOutbox)


class Action:
    USER_REGISTERED: Final = "auth.user.registered"
    USER_UPDATED: Final = "auth.user.updated"
    USER_DEACTIVATED: Final = "auth.user.deactivated"
    USER_REACTIVATED: Final = "auth.user.reactivated"
    USER_ROLES_CHANGED: Final = "auth.user.roles_changed"
    PROFILE_UPDATED: Final = "auth.profile.updated"
    LOGIN: Final = "auth.user.login"
    LOGOUT: Final = "auth.session.logout"
    LOGOUT_ALL: Final = "auth.session.logout_all"
    REFRESH_TOKEN_REUSED: Final = "auth.session.refresh_token_reused"
    PASSWORD_CHANGED: Final = "auth.password.changed"
    PASSWORD_RESET_REQUESTED: Final = "auth.password.reset_requested"
    PASSWORD_RESET: Final = "auth.password.reset"
    PASSWORD_RESET_MAILED: Final = "auth.password.reset_mailed"
    EMAIL_VERIFICATION_REQUESTED: Final = "auth.email.verification_requested"
    EMAIL_VERIFICATION_MAILED: Final = "auth.email.verification_mailed"
    EMAIL_VERIFIED: Final = "auth.email.verified"
    REGISTRATION_ATTEMPTED: Final = "auth.user.registration_attempted"
    ROLE_CREATED: Final = "auth.role.created"
    ROLE_UPDATED: Final = "auth.role.updated"
    ROLE_DELETED: Final = "auth.role.deleted"
    SIGNING_KEY_ROTATED: Final = "auth.signing_key.rotated"
    SERVICE_CLIENT_CREATED: Final = "auth.service_client.created"
    SERVICE_CLIENT_DISABLED: Final = "auth.service_client.disabled"
    SERVICE_TOKEN_ISSUED: Final = "auth.service_client.token_issued"


def user_resource(user_id: uuid.UUID | str) -> Resource:
    return Resource(type="user", id=str(user_id))


def role_resource(role_id: uuid.UUID | str) -> Resource:
    return Resource(type="role", id=str(role_id))
