"""The auth service's business rules: one class per use, built from the request's session (or,
for the hot paths, the engine) in `dependencies.py`, the CLI or a Celery task. Each owns its
transaction and returns domain objects; the modules not listed here are the mechanisms the
services share (hashing, throttling, tokens, revocations, mail)."""

from auth_service.services.access_tokens import SessionTokens, UserTokens
from auth_service.services.account_mail import AccountMailer
from auth_service.services.accounts import AccountService
from auth_service.services.admins import AdminAccounts
from auth_service.services.client_credentials import ClientCredentialsService
from auth_service.services.email_verification import EmailVerificationService
from auth_service.services.login import LoginService
from auth_service.services.password_reset import PasswordResetService
from auth_service.services.profile import ProfileService
from auth_service.services.purge import TokenPurge
from auth_service.services.registration import Registration, RegistrationService
from auth_service.services.roles import RoleService
from auth_service.services.seed import SeedService
from auth_service.services.service_clients import ServiceClientAdmin
from auth_service.services.sessions import SessionService
from auth_service.services.signing_keys import SigningKeyService
from auth_service.services.token_grants import TokenGrants, TokenRequest
from auth_service.services.users import UserAdminService

__all__ = [
    "AccountMailer",
    "AccountService",
    "AdminAccounts",
    "ClientCredentialsService",
    "EmailVerificationService",
    "LoginService",
    "PasswordResetService",
    "ProfileService",
    "Registration",
    "RegistrationService",
    "RoleService",
    "SeedService",
    "ServiceClientAdmin",
    "SessionService",
    "SessionTokens",
    "SigningKeyService",
    "TokenGrants",
    "TokenPurge",
    "TokenRequest",
    "UserAdminService",
    "UserTokens",
]
