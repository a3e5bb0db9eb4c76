"""The caller's own account."""

from __future__ import annotations

from fastapi import APIRouter, status

from auth_service.dependencies import AccountServiceDep, ProfileServiceDep
from auth_service.schemas import MeUpdate, PasswordChangeRequest, UserResponse
from common.schemas import error_responses
from common.security import CurrentPrincipal

router = APIRouter(prefix="/auth/me", tags=["me"])


@router.get(
    "",
    response_model=UserResponse,
    responses=error_responses(401),
    summary="Current user: the caller's own account",
)
async def read_me(principal: CurrentPrincipal, profiles: ProfileServiceDep) -> UserResponse:
    return UserResponse.model_validate(await profiles.read(principal.user_id))


@router.put(
    "",
    response_model=UserResponse,
    responses=error_responses(401, 422),
    summary="Change the current user's name",
)
async def update_me(
    data: MeUpdate, principal: CurrentPrincipal, accounts: AccountServiceDep
) -> UserResponse:
    user = await accounts.update_profile(principal.user_id, data=data)
    return UserResponse.model_validate(user)


@router.put(
    "/password",
    status_code=status.HTTP_204_NO_CONTENT,
    responses=error_responses(400, 401, 422, 429),
    summary="Change the password; every other session is signed out",
)
async def change_password(
    data: PasswordChangeRequest,
    principal: CurrentPrincipal,
    accounts: AccountServiceDep,
) -> None:
    await accounts.change_password(principal.user_id, data=data, session_id=principal.session_id)
