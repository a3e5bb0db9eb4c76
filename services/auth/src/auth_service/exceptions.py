"""Errors of the auth service. Codes are part of the API: clients branch on them."""

from __future__ import annotations

from common.errors import (
    BadRequest,
    Conflict,
    InvalidInput,
    NotAuthenticated,
    NotFound,
    PermissionDenied,
    RateLimited,
    ServiceUnavailable,
)


class EmailTaken(Conflict):
    code = "email_taken"
    message = "An account with this e-mail address already exists."


class AccountExists(Conflict):
    code = "account_exists"
    message = (
        "An account with this e-mail address already exists; pass --grant-existing to make it a "
        "super_admin (its password is replaced and every session of it ends)."
    )


class WeakPassword(InvalidInput):
    code = "weak_password"
    message = "The password does not meet the password policy."


class PasswordMismatch(InvalidInput):
    code = "password_mismatch"
    message = "The two passwords differ; type the same new password twice."


class InvalidCredentials(NotAuthenticated):
    code = "invalid_credentials"
    message = "The e-mail address or password is incorrect."


class InvalidRefreshToken(NotAuthenticated):
    code = "invalid_refresh_token"
    message = "The refresh token is invalid or has expired."


class RefreshTokenReused(NotAuthenticated):
    code = "refresh_token_reused"
    message = "This refresh token was already used; the session has been revoked."


class InvalidClient(NotAuthenticated):
    code = "invalid_client"
    message = "The client credentials are invalid."
    challenge = 'Basic realm="token"'


class UnsupportedGrantType(BadRequest):
    code = "unsupported_grant_type"
    message = "The grant type is not supported."


class MissingGrantParameter(InvalidInput):
    code = "invalid_request"
    message = "A parameter required by this grant type is missing."


class AccountInactive(NotAuthenticated):
    code = "account_inactive"
    message = "The account is deactivated."


class IncorrectPassword(BadRequest):
    code = "incorrect_password"
    message = "The current password is incorrect."


class InvalidResetToken(BadRequest):
    code = "invalid_reset_token"
    message = "The password-reset token is invalid, used or expired."


class InvalidVerificationToken(BadRequest):
    code = "invalid_verification_token"
    message = "The e-mail verification token is invalid, used or expired."


class EmailNotVerified(PermissionDenied):
    code = "email_not_verified"
    message = "Confirm your e-mail address first: follow the link mailed to it."


class HashingBusy(RateLimited):
    code = "server_busy"
    message = "The service is busy; try again in a moment."

    def __init__(self) -> None:
        super().__init__(retry_after=1)


class LoginThrottled(RateLimited):
    code = "too_many_attempts"
    message = "Too many failed attempts; try again later."


class ThrottleUnavailable(ServiceUnavailable):
    code = "login_unavailable"
    message = "Sign-in is temporarily unavailable; try again shortly."


class UserNotFound(NotFound):
    code = "user_not_found"
    message = "The user does not exist."


class RoleNotFound(NotFound):
    code = "role_not_found"
    message = "The role does not exist."


class RoleNameTaken(Conflict):
    code = "role_name_taken"
    message = "A role with this name already exists."


class RoleInUse(Conflict):
    code = "role_in_use"
    message = "The role is assigned to users; remove it from them first."


class SystemRoleProtected(Conflict):
    code = "system_role_protected"
    message = "Seeded roles cannot be renamed or deleted, and super_admin cannot be changed."


class UnknownPermission(InvalidInput):
    code = "unknown_permission"
    message = "One or more permissions do not exist."


class UnknownRole(InvalidInput):
    code = "unknown_role"
    message = "One or more roles do not exist."


class PrivilegeEscalation(PermissionDenied):
    code = "privilege_escalation"
    message = "You cannot grant, revoke or edit rights you do not hold yourself."


class OwnAccountProtected(PermissionDenied):
    code = "own_account_protected"
    message = "You cannot change your own roles or deactivate your own account."


class LastSuperAdmin(Conflict):
    code = "last_super_admin"
    message = "This would leave no active super_admin."


class ServiceClientExists(Conflict):
    code = "service_client_exists"
    message = "A service client with this name already exists."


class ServiceClientNotFound(NotFound):
    code = "service_client_not_found"
    message = "There is no service client with this name."
