"""Dependency providers: each route asks for a ready service object, built from the request's
database session and the singletons the lifespan put on `app.state`. All are `async def`:
FastAPI runs a plain `def` dependency in the thread pool, a hop per request for nothing."""

from __future__ import annotations

import base64
import binascii
from typing import Annotated
from urllib.parse import unquote_plus

from fastapi import Depends, Request
from fastapi.security import HTTPBasic, HTTPBasicCredentials

from auth_service.exceptions import InvalidClient
from auth_service.services.account_mail import reset_tokens, verification_tokens
from auth_service.services.accounts import AccountService
from auth_service.services.email_verification import EmailVerificationService
from auth_service.services.login import LoginService
from auth_service.services.password_reset import PasswordResetService
from auth_service.services.registration import RegistrationService
from auth_service.services.roles import RoleService
from auth_service.services.sessions import SessionService
from auth_service.services.signing_keys import SigningKeyService
from auth_service.services.users import UserAdminService
from auth_service.settings import AuthSettings
from common.client import ClientInfo, client_info
from common.db import SessionDep


async def get_settings_from_app(request: Request) -> AuthSettings:
    settings: AuthSettings = request.app.state.settings
    return settings


class ClientBasicAuth(HTTPBasic):
    """HTTP Basic client authentication of the token endpoint (RFC 6749 §2.3.1): no header is
    None, a malformed one is `invalid_client` (FastAPI's own answers a bearer-style 401), and
    the id and secret are form-decoded, as the RFC has clients encode them."""

    def __init__(self, *, description: str) -> None:
        super().__init__(auto_error=False, description=description)

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


async def get_client_info(request: Request) -> ClientInfo:
    settings: AuthSettings = request.app.state.settings
    return client_info(request.scope, settings.trusted_proxy_networks)


async def get_session_service(request: Request, session: SessionDep) -> SessionService:
    state = request.app.state
    return SessionService(
        session,
        settings=state.settings,
        issuer=state.token_issuer,
        client_failures=state.client_failures,
        revocations=state.access_revocations,
        engine=state.database.engine,
    )


async def get_login_service(request: Request) -> LoginService:
    """No session: login reads and writes one statement each, outside any transaction."""
    state = request.app.state
    return LoginService(
        state.database.engine,
        settings=state.settings,
        hasher=state.password_hasher,
        attempts=state.login_attempts,
        issuer=state.token_issuer,
    )


async def get_account_service(request: Request, session: SessionDep) -> AccountService:
    state = request.app.state
    return AccountService(
        session,
        hasher=state.password_hasher,
        policy=state.password_policy,
        attempts=state.password_change_attempts,
        revocations=state.access_revocations,
    )


async def get_registration_service(request: Request, session: SessionDep) -> RegistrationService:
    state = request.app.state
    return RegistrationService(
        session,
        hasher=state.password_hasher,
        policy=state.password_policy,
        limits=state.registrations,
        notices=state.registration_notices,
        queue=state.mail_queue,
        require_verification=state.settings.require_email_verification,
    )


async def get_password_reset_service(request: Request, session: SessionDep) -> PasswordResetService:
    state = request.app.state
    return PasswordResetService(
        session,
        tokens=reset_tokens(state.settings),
        hasher=state.password_hasher,
        policy=state.password_policy,
        requests=state.reset_requests,
        queue=state.mail_queue,
        revocations=state.access_revocations,
    )


async def get_email_verification_service(
    request: Request, session: SessionDep
) -> EmailVerificationService:
    state = request.app.state
    return EmailVerificationService(
        session,
        tokens=verification_tokens(state.settings),
        requests=state.verification_requests,
        queue=state.mail_queue,
    )


async def get_user_admin_service(request: Request, session: SessionDep) -> UserAdminService:
    return UserAdminService(session, revocations=request.app.state.access_revocations)


async def get_role_service(request: Request, session: SessionDep) -> RoleService:
    return RoleService(session, revocations=request.app.state.access_revocations)


async def get_key_service(request: Request) -> SigningKeyService:
    keys: SigningKeyService = request.app.state.key_service
    return keys


SettingsDep = Annotated[AuthSettings, Depends(get_settings_from_app)]
ClientInfoDep = Annotated[ClientInfo, Depends(get_client_info)]
SessionServiceDep = Annotated[SessionService, Depends(get_session_service)]
LoginServiceDep = Annotated[LoginService, Depends(get_login_service)]
AccountServiceDep = Annotated[AccountService, Depends(get_account_service)]
RegistrationServiceDep = Annotated[RegistrationService, Depends(get_registration_service)]
PasswordResetServiceDep = Annotated[PasswordResetService, Depends(get_password_reset_service)]
EmailVerificationServiceDep = Annotated[
    EmailVerificationService, Depends(get_email_verification_service)
]
UserAdminServiceDep = Annotated[UserAdminService, Depends(get_user_admin_service)]
RoleServiceDep = Annotated[RoleService, Depends(get_role_service)]
KeyServiceDep = Annotated[SigningKeyService, Depends(get_key_service)]
