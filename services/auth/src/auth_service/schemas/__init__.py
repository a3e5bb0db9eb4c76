"""Request and response bodies of the auth service."""

from auth_service.schemas.auth import (
    EmailVerificationConfirm,
    EmailVerificationRequest,
    LoginRequest,
    PasswordChangeRequest,
    PasswordResetConfirm,
    PasswordResetRequest,
    RefreshRequest,
    RegisterRequest,
    TokenPair,
    TokenResponse,
)
from auth_service.schemas.role import PermissionResponse, RoleCreate, RoleResponse, RoleUpdate
from auth_service.schemas.user import MeUpdate, UserAdminUpdate, UserResponse, UserRolesUpdate
from auth_service.schemas.well_known import JWKS, OpenIDConfiguration

__all__ = [
    "JWKS",
    "EmailVerificationConfirm",
    "EmailVerificationRequest",
    "LoginRequest",
    "MeUpdate",
    "OpenIDConfiguration",
    "PasswordChangeRequest",
    "PasswordResetConfirm",
    "PasswordResetRequest",
    "PermissionResponse",
    "RefreshRequest",
    "RegisterRequest",
    "RoleCreate",
    "RoleResponse",
    "RoleUpdate",
    "TokenPair",
    "TokenResponse",
    "UserAdminUpdate",
    "UserResponse",
    "UserRolesUpdate",
]
