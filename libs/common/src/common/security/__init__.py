"""Access-token verification and permission checks shared by every service."""

from common.security.dependencies import (
    TOKEN_URL,
    CurrentPrincipal,
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

__all__ = [
    "ALGORITHM",
    "SERVICE_SUBJECT_PREFIX",
    "TOKEN_URL",
    "CurrentPrincipal",
    "JwksSource",
    "JwksUnavailable",
    "Principal",
    "TokenVerifier",
    "bearer_scheme",
    "get_principal",
    "http_jwks_source",
    "parse_jwks",
    "require_permission",
]
