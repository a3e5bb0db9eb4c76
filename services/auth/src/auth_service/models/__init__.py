"""Tables of the auth schema."""

from auth_service.models.audit import AuditOutbox
from auth_service.models.base import SCHEMA, AuthBase
from auth_service.models.revocation import RevocationOutbox
from auth_service.models.role import Permission, Role, role_permission, user_role
from auth_service.models.service_client import ServiceClient
from auth_service.models.signing_key import KeyState, SigningKey
from auth_service.models.token import EmailVerificationToken, PasswordResetToken, RefreshToken
from auth_service.models.user import User

__all__ = [
    "SCHEMA",
    "AuditOutbox",
    "AuthBase",
    "EmailVerificationToken",
    "KeyState",
    "PasswordResetToken",
    "Permission",
    "RefreshToken",
    "RevocationOutbox",
    "Role",
    "ServiceClient",
    "SigningKey",
    "User",
    "role_permission",
    "user_role",
]
