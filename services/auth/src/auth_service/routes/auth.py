"""Registration, sign-in, token refresh and sign-out."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Form, status
from fastapi.security import HTTPBasic, HTTPBasicCredentials

from auth_service.dependencies import (
    AccountServiceDep,
    ClientInfoDep,
    LoginServiceDep,
    SessionServiceDep,
)
from auth_service.exceptions import InvalidClient, MissingGrantParameter, UnsupportedGrantType
from auth_service.schemas import (
    LoginRequest,
    RefreshRequest,
    RegisterRequest,
    TokenPair,
    TokenResponse,
    UserResponse,
)
from common.schemas import error_responses
from common.security import CurrentPrincipal

router = APIRouter(prefix="/auth", tags=["auth"])
client_basic = HTTPBasic(auto_error=False, description="Service client id and secret")

FormField = Annotated[str | None, Form(max_length=320)]
SecretField = Annotated[str | None, Form(max_length=256)]


@router.post(
    "/register",
    response_model=UserResponse,
    status_code=status.HTTP_201_CREATED,
    responses=error_responses(409, 422, 429),
    summary="Create an account (role `user`)",
)
async def register(
    data: RegisterRequest, accounts: AccountServiceDep, client: ClientInfoDep
) -> UserResponse:
    return UserResponse.model_validate(await accounts.register(data=data, client=client))


@router.post(
    "/login",
    response_model=TokenPair,
    responses=error_responses(401, 422, 429, 503),
    summary="Sign in with e-mail and password",
)
async def login(data: LoginRequest, logins: LoginServiceDep, client: ClientInfoDep) -> TokenPair:
    return await logins.login(email=data.email, password=data.password, client=client)


@router.post(
    "/token",
    response_model=TokenResponse,
    response_model_exclude_none=True,
    responses=error_responses(400, 401, 422, 429, 503),
    summary="OAuth2 token endpoint (password, refresh_token, client_credentials)",
)
async def token(
    *,
    sessions: SessionServiceDep,
    logins: LoginServiceDep,
    client: ClientInfoDep,
    grant_type: Annotated[str, Form(max_length=64)],
    username: FormField = None,
    password: SecretField = None,
    refresh_token: SecretField = None,
    client_id: Annotated[str | None, Form(max_length=64)] = None,
    client_secret: SecretField = None,
    scope: Annotated[str, Form(max_length=1024)] = "",
    basic: Annotated[HTTPBasicCredentials | None, Depends(client_basic)] = None,
) -> TokenResponse:
    """Form-encoded, as RFC 6749 asks; Swagger's Authorize button signs in here. Errors use the
    service's error body; their codes follow RFC 6749 §5.2 where one applies."""
    if grant_type == "password":
        if not username or not password:
            raise MissingGrantParameter("username and password are required.")
        pair = await logins.login(email=username.lower(), password=password, client=client)
        return TokenResponse(**pair.model_dump())
    if grant_type == "refresh_token":
        if not refresh_token:
            raise MissingGrantParameter("refresh_token is required.")
        pair = await sessions.refresh(refresh_token=refresh_token, client=client)
        return TokenResponse(**pair.model_dump())
    if grant_type == "client_credentials":
        if basic is not None:
            client_id, client_secret = basic.username, basic.password
        if not client_id or not client_secret:
            raise InvalidClient
        return await sessions.client_credentials(
            client_id=client_id, client_secret=client_secret, client=client
        )
    raise UnsupportedGrantType


@router.post(
    "/refresh",
    response_model=TokenPair,
    responses=error_responses(401, 422),
    summary="Exchange a refresh token for a new pair (the old one stops working)",
)
async def refresh(
    data: RefreshRequest, sessions: SessionServiceDep, client: ClientInfoDep
) -> TokenPair:
    return await sessions.refresh(refresh_token=data.refresh_token, client=client)


@router.post(
    "/logout",
    status_code=status.HTTP_204_NO_CONTENT,
    responses=error_responses(422),
    summary="End the session of a refresh token",
)
async def logout(data: RefreshRequest, sessions: SessionServiceDep, client: ClientInfoDep) -> None:
    await sessions.logout(refresh_token=data.refresh_token, client=client)


@router.post(
    "/logout-all",
    status_code=status.HTTP_204_NO_CONTENT,
    responses=error_responses(401),
    summary="End every session of the caller",
)
async def logout_all(
    principal: CurrentPrincipal, sessions: SessionServiceDep, client: ClientInfoDep
) -> None:
    if principal.user_id is not None:
        await sessions.logout_all(user_id=principal.user_id, client=client)
