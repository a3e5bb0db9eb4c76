"""Queries of the auth schema. Add and flush; the services commit."""

from auth_service.crud import audit
from auth_service.crud.one_time_token import reset_tokens, verification_tokens
from auth_service.crud.role import permissions, roles
from auth_service.crud.service_client import service_clients
from auth_service.crud.signing_key import signing_keys
from auth_service.crud.token import refresh_tokens
from auth_service.crud.user import users

__all__ = [
    "audit",
    "permissions",
    "refresh_tokens",
    "reset_tokens",
    "roles",
    "service_clients",
    "signing_keys",
    "users",
    "verification_tokens",
]
