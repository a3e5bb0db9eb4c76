"""Dependency providers: each route asks for a ready service object, built from the request's
database session and the singletons the lifespan put on `app.state`. All are `async def`:
FastAPI runs a plain `def` dependency in the thread pool, a hop per request for nothing."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request

from auth_service.services.accounts import AccountService
from auth_service.services.login import LoginService
from auth_service.services.password_reset import PasswordResetService
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
        registrations=state.registrations,
        revocations=state.access_revocations,
    )


async def get_password_reset_service(request: Request, session: SessionDep) -> PasswordResetService:
    state = request.app.state
    return PasswordResetService(
        session,
        settings=state.settings,
        hasher=state.password_hasher,
        policy=state.password_policy,
        requests=state.reset_requests,
        send_mail=state.reset_mailer,
        revocations=state.access_revocations,
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
PasswordResetServiceDep = Annotated[PasswordResetService, Depends(get_password_reset_service)]
UserAdminServiceDep = Annotated[UserAdminService, Depends(get_user_admin_service)]
RoleServiceDep = Annotated[RoleService, Depends(get_role_service)]
KeyServiceDep = Annotated[SigningKeyService, Depends(get_key_service)]
