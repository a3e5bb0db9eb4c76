"""Access-token verification and permission checks shared by every service."""

from common.security.dependencies import (
    TOKEN_URL,
    USER_SIGN_IN,
    CurrentPrincipal,
    PermissionCheck,
    bearer_scheme,
    get_principal,
    require_permission,
)
from common.security.jwks import (
    ALGORITHM,
    JwksSource,
    JwksUnavailable,
    TokenVerifier,
    http_jwks_source,
    parse_jwks,
)
from common.security.principal import SERVICE_SUBJECT_PREFIX, Principal
from common.security.revocation import (
    REVOCATION_FIELD,
    Revocation,
    RevocationFeed,
    RevocationList,
    RevocationsUnavailable,
    TokenRevoked,
)

__all__ = [
    "ALGORITHM",
    "REVOCATION_FIELD",
    "SERVICE_SUBJECT_PREFIX",
    "TOKEN_URL",
    "USER_SIGN_IN",
    "CurrentPrincipal",
    "JwksSource",
    "JwksUnavailable",
    "PermissionCheck",
    "Principal",
    "Revocation",
    "RevocationFeed",
    "RevocationList",
    "RevocationsUnavailable",
    "TokenRevoked",
    "TokenVerifier",
    "bearer_scheme",
    "get_principal",
    "http_jwks_source",
    "parse_jwks",
    "require_permission",
]
