"""Dependency providers: each route asks for a ready service object, built from the request's
database session and the service's typed runtime (`runtime.AuthRuntime`). All are `async def`:
FastAPI runs a plain `def` dependency in the thread pool, a hop per request for nothing."""

from __future__ import annotations

import base64
import binascii
from typing import Annotated
from urllib.parse import unquote_plus

from fastapi import Depends, Request
from fastapi.security import HTTPBasic, HTTPBasicCredentials

from auth_service.exceptions import InvalidClient
from auth_service.runtime import AuthRuntime
from auth_service.services.accounts import AccountService
from auth_service.services.client_credentials import ClientCredentialsService
from auth_service.services.email_verification import EmailVerificationService
from auth_service.services.login import LoginService
from auth_service.services.password_reset import PasswordResetService
from auth_service.services.profile import ProfileService
from auth_service.services.registration import RegistrationService
from auth_service.services.roles import RoleService
from auth_service.services.sessions import SessionService
from auth_service.services.signing_keys import SigningKeyService
from auth_service.services.token_grants import TokenGrants
from auth_service.services.users import UserAdminService
from auth_service.settings import AuthSettings
from common.dependencies import SessionDep, runtime_dependency

RuntimeDep = Annotated[AuthRuntime, Depends(runtime_dependency(AuthRuntime))]


class ClientBasicAuth(HTTPBasic):
    """HTTP Basic client authentication of the token endpoint (RFC 6749 §2.3.1): no header is
    None, a malformed one is `invalid_client` (FastAPI's own answers a bearer-style 401), and
    the id and secret are form-decoded, as the RFC has clients encode them."""

    def __init__(self, *, scheme_name: str, description: str) -> None:
        super().__init__(scheme_name=scheme_name, description=description, auto_error=False)

    async def __call__(self, request: Request) -> HTTPBasicCredentials | None:  # type: ignore[override]  # never raises 401 by itself
        scheme, _, param = request.headers.get("authorization", "").partition(" ")
        if scheme.lower() != "basic":
            return None
        try:
            decoded = base64.b64decode(param.strip(), validate=True).decode("utf-8")
        except (ValueError, binascii.Error) as exc:
            raise InvalidClient from exc
        client_id, separator, secret = decoded.partition(":")
        client_id, secret = unquote_plus(client_id), unquote_plus(secret)
        if not separator or not (client_id + secret).isprintable():
            raise InvalidClient
        return HTTPBasicCredentials(username=client_id, password=secret)


async def get_session_service(rt: RuntimeDep, session: SessionDep) -> SessionService:
    return SessionService(session, tokens=rt.user_tokens, revocations=rt.revocations)


async def get_login_service(rt: RuntimeDep) -> LoginService:
    """No session: sign-in is the hot path (decision 0007)."""
    return LoginService(
        rt.hot_path,
        settings=rt.settings,
        hasher=rt.hasher,
        attempts=rt.limits.logins,
        tokens=rt.user_tokens,
    )


async def get_client_credentials_service(
    rt: RuntimeDep, session: SessionDep
) -> ClientCredentialsService:
    return ClientCredentialsService(session, issuer=rt.issuer, failures=rt.limits.client_failures)


async def get_token_grants(
    logins: LoginServiceDep,
    sessions: SessionServiceDep,
    clients: ClientCredentialsServiceDep,
) -> TokenGrants:
    return TokenGrants(logins=logins, sessions=sessions, clients=clients)


async def get_profile_service(rt: RuntimeDep) -> ProfileService:
    """No session: `GET /auth/me` is the hot path (decision 0007)."""
    return ProfileService(rt.hot_path)


async def get_account_service(rt: RuntimeDep, session: SessionDep) -> AccountService:
    return AccountService(
        session,
        hasher=rt.hasher,
        policy=rt.policy,
        attempts=rt.limits.password_changes,
        revocations=rt.revocations,
    )


async def get_registration_service(rt: RuntimeDep, session: SessionDep) -> RegistrationService:
    return RegistrationService(
        session,
        hasher=rt.hasher,
        policy=rt.policy,
        limits=rt.limits.registrations,
        notices=rt.limits.registration_notices,
        queue=rt.mail,
        require_verification=rt.settings.require_email_verification,
    )


async def get_password_reset_service(rt: RuntimeDep, session: SessionDep) -> PasswordResetService:
    return PasswordResetService(
        session,
        hasher=rt.hasher,
        policy=rt.policy,
        requests=rt.limits.reset_requests,
        queue=rt.mail,
        revocations=rt.revocations,
    )


async def get_email_verification_service(
    rt: RuntimeDep, session: SessionDep
) -> EmailVerificationService:
    return EmailVerificationService(
        session, requests=rt.limits.verification_requests, queue=rt.mail
    )


async def get_user_admin_service(rt: RuntimeDep, session: SessionDep) -> UserAdminService:
    return UserAdminService(session, revocations=rt.revocations)


async def get_role_service(rt: RuntimeDep, session: SessionDep) -> RoleService:
    return RoleService(session, revocations=rt.revocations)


async def get_key_service(rt: RuntimeDep, session: SessionDep) -> SigningKeyService:
    return SigningKeyService(session, settings=rt.settings)


async def get_settings(rt: RuntimeDep) -> AuthSettings:
    return rt.settings


SettingsDep = Annotated[AuthSettings, Depends(get_settings)]
SessionServiceDep = Annotated[SessionService, Depends(get_session_service)]
LoginServiceDep = Annotated[LoginService, Depends(get_login_service)]
ClientCredentialsServiceDep = Annotated[
    ClientCredentialsService, Depends(get_client_credentials_service)
]
TokenGrantsDep = Annotated[TokenGrants, Depends(get_token_grants)]
ProfileServiceDep = Annotated[ProfileService, Depends(get_profile_service)]
AccountServiceDep = Annotated[AccountService, Depends(get_account_service)]
RegistrationServiceDep = Annotated[RegistrationService, Depends(get_registration_service)]
PasswordResetServiceDep = Annotated[PasswordResetService, Depends(get_password_reset_service)]
EmailVerificationServiceDep = Annotated[
    EmailVerificationService, Depends(get_email_verification_service)
]
UserAdminServiceDep = Annotated[UserAdminService, Depends(get_user_admin_service)]
RoleServiceDep = Annotated[RoleService, Depends(get_role_service)]
KeyServiceDep = Annotated[SigningKeyService, Depends(get_key_service)]
