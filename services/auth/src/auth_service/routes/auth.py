"""Registration, sign-in, token refresh and sign-out."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Form, status
from fastapi.responses import JSONResponse
from fastapi.security import HTTPBasicCredentials
from pydantic import EmailStr

from auth_service.dependencies import (
    ClientBasicAuth,
    LoginServiceDep,
    RegistrationServiceDep,
    SessionServiceDep,
    TokenGrantsDep,
)
from auth_service.schemas import (
    LoginRequest,
    RefreshRequest,
    RegisterRequest,
    TokenPair,
    TokenResponse,
    UserResponse,
)
from auth_service.services.token_grants import TokenRequest
from common.schemas import MessageResponse, error_responses
from common.security import CurrentPrincipal

router = APIRouter(prefix="/auth", tags=["auth"])
client_basic = ClientBasicAuth(
    scheme_name="ServiceClient",
    description="Service client (client_credentials grant): its client id and secret, "
    "from `create-service-client`; not for people, who sign in with UserSignIn.",
)

EmailField = Annotated[EmailStr | None, Form(max_length=320)]
SecretField = Annotated[str | None, Form(max_length=256)]


CHECK_YOUR_INBOX = "Check your inbox: a link to confirm the address is on its way."


@router.post(
    "/register",
    response_model=UserResponse,
    status_code=status.HTTP_201_CREATED,
    responses={
        202: {
            "model": MessageResponse,
            "description": "With REQUIRE_EMAIL_VERIFICATION: the same answer for every address",
        },
        **error_responses(409, 422, 429),
    },
    summary="Create an account (role `user`)",
)
async def register(
    data: RegisterRequest, registrations: RegistrationServiceDep
) -> UserResponse | JSONResponse:
    outcome = await registrations.register(data=data)
    if outcome.confirm_by_mail or outcome.user is None:
        body = MessageResponse(detail=CHECK_YOUR_INBOX)
        return JSONResponse(body.model_dump(), status_code=status.HTTP_202_ACCEPTED)
    return UserResponse.model_validate(outcome.user)


@router.post(
    "/login",
    response_model=TokenPair,
    responses=error_responses(401, 422, 429, 503),
    summary="Sign in with e-mail and password",
)
async def login(data: LoginRequest, logins: LoginServiceDep) -> TokenPair:
    tokens = await logins.login(email=data.email, password=data.password)
    return TokenPair.model_validate(tokens, from_attributes=True)


@router.post(
    "/token",
    response_model=TokenResponse,
    response_model_exclude_none=True,
    responses=error_responses(400, 401, 422, 429, 503),
    summary="OAuth2 token endpoint (password, refresh_token, client_credentials)",
)
async def token(
    *,
    grants: TokenGrantsDep,
    grant_type: Annotated[str, Form(max_length=64)],
    username: EmailField = None,
    password: SecretField = None,
    refresh_token: SecretField = None,
    client_id: Annotated[str | None, Form(max_length=64)] = None,
    client_secret: SecretField = None,
    scope: Annotated[str, Form(max_length=1024)] = "",
    basic: Annotated[HTTPBasicCredentials | None, Depends(client_basic)] = None,
) -> TokenResponse:
    """Form-encoded, as RFC 6749 asks; Swagger's Authorize button signs in here. Errors use the
    service's error body; their codes follow RFC 6749 §5.2 where one applies."""
    if basic is not None:
        client_id, client_secret = basic.username, basic.password
    issued = await grants.grant(
        TokenRequest(
            grant_type=grant_type,
            username=username,
            password=password,
            refresh_token=refresh_token,
            client_id=client_id,
            client_secret=client_secret,
        )
    )
    return TokenResponse.model_validate(issued, from_attributes=True)


@router.post(
    "/refresh",
    response_model=TokenPair,
    responses=error_responses(401, 422),
    summary="Exchange a refresh token for a new pair (the old one stops working)",
)
async def refresh(data: RefreshRequest, sessions: SessionServiceDep) -> TokenPair:
    tokens = await sessions.refresh(refresh_token=data.refresh_token)
    return TokenPair.model_validate(tokens, from_attributes=True)


@router.post(
    "/logout",
    status_code=status.HTTP_204_NO_CONTENT,
    responses=error_responses(422),
    summary="End the session of a refresh token",
)
async def logout(data: RefreshRequest, sessions: SessionServiceDep) -> None:
    await sessions.logout(refresh_token=data.refresh_token)


@router.post(
    "/logout-all",
    status_code=status.HTTP_204_NO_CONTENT,
    responses=error_responses(401),
    summary="End every session of the caller",
)
async def logout_all(principal: CurrentPrincipal, sessions: SessionServiceDep) -> None:
    if principal.user_id is not None:
        await sessions.logout_all(user_id=principal.user_id)
