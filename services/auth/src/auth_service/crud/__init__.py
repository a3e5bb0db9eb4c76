"""Repositories of the auth schema (bound to the session of a unit of work: they add and
flush, the services commit), and the measured hot paths that run without one (decision 0007:
`AccountHotPath`, `ActiveKeyReads`)."""

from auth_service.crud.hot_path import AccountHotPath, Claims, Credentials, Profile
from auth_service.crud.one_time_token import ResetTokenRepository, VerificationTokenRepository
from auth_service.crud.revocation import RevocationOutboxRepository
from auth_service.crud.role import PermissionRepository, RoleRepository
from auth_service.crud.service_client import ServiceClientRepository
from auth_service.crud.signing_key import ActiveKeyReads, SigningKeyRepository
from auth_service.crud.token import RefreshTokenRepository
from auth_service.crud.user import UserRepository

__all__ = [
    "AccountHotPath",
    "ActiveKeyReads",
    "Claims",
    "Credentials",
    "PermissionRepository",
    "Profile",
    "RefreshTokenRepository",
    "ResetTokenRepository",
    "RevocationOutboxRepository",
    "RoleRepository",
    "ServiceClientRepository",
    "SigningKeyRepository",
    "UserRepository",
    "VerificationTokenRepository",
]
