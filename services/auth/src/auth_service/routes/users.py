"""User administration. `require_permission` refuses a token without the right at once; the
service then decides from the database (a token can outlive a demotion)."""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Query

from auth_service.dependencies import UserAdminServiceDep
from auth_service.schemas import UserAdminUpdate, UserResponse, UserRolesUpdate
from common.db import PageResponse
from common.dependencies import PageParamsDep
from common.permissions.auth import UsersReader, UsersWriter
from common.schemas import error_responses

router = APIRouter(prefix="/users", tags=["users"])


@router.get(
    "",
    response_model=PageResponse[UserResponse],
    responses=error_responses(401, 403, 422),
    summary="Search users, newest first",
)
async def list_users(
    *,
    principal: UsersReader,
    users: UserAdminServiceDep,
    page: PageParamsDep,
    q: Annotated[
        str | None, Query(max_length=100, description="Part of the e-mail or name")
    ] = None,
    is_active: bool | None = None,
    role: Annotated[str | None, Query(max_length=64)] = None,
) -> PageResponse[UserResponse]:
    result = await users.search(
        principal=principal, params=page, query=q, is_active=is_active, role=role
    )
    return PageResponse[UserResponse].from_page(result)


@router.get(
    "/{user_id}",
    response_model=UserResponse,
    responses=error_responses(401, 403, 404),
    summary="One user, with their roles",
)
async def read_user(
    user_id: uuid.UUID, principal: UsersReader, users: UserAdminServiceDep
) -> UserResponse:
    return UserResponse.model_validate(await users.get(user_id, principal=principal))


@router.patch(
    "/{user_id}",
    response_model=UserResponse,
    responses=error_responses(401, 403, 404, 409, 422),
    summary="Change a user's name or deactivate/reactivate the account",
)
async def update_user(
    user_id: uuid.UUID,
    data: UserAdminUpdate,
    principal: UsersWriter,
    users: UserAdminServiceDep,
) -> UserResponse:
    user = await users.update(user_id, data=data, principal=principal)
    return UserResponse.model_validate(user)


@router.put(
    "/{user_id}/roles",
    response_model=UserResponse,
    responses=error_responses(401, 403, 404, 409, 422),
    summary="Replace a user's roles",
)
async def set_user_roles(
    user_id: uuid.UUID,
    data: UserRolesUpdate,
    principal: UsersWriter,
    users: UserAdminServiceDep,
) -> UserResponse:
    user = await users.set_roles(user_id, role_names=data.roles, principal=principal)
    return UserResponse.model_validate(user)
