"""Roles and the permission catalog."""

from __future__ import annotations

import uuid

from fastapi import APIRouter, status

from auth_service.dependencies import RoleServiceDep
from auth_service.schemas import PermissionResponse, RoleCreate, RoleResponse, RoleUpdate
from common.db import PageResponse
from common.dependencies import PageParamsDep
from common.permissions.auth import RolesReader, RolesWriter
from common.schemas import error_responses

router = APIRouter(tags=["roles"])


@router.get(
    "/roles",
    response_model=PageResponse[RoleResponse],
    responses=error_responses(401, 403, 422),
    summary="List roles by name",
)
async def list_roles(
    principal: RolesReader, roles: RoleServiceDep, page: PageParamsDep
) -> PageResponse[RoleResponse]:
    return PageResponse[RoleResponse].from_page(await roles.page(principal=principal, params=page))


@router.post(
    "/roles",
    response_model=RoleResponse,
    status_code=status.HTTP_201_CREATED,
    responses=error_responses(401, 403, 409, 422),
    summary="Create a role with a set of permissions",
)
async def create_role(
    data: RoleCreate, principal: RolesWriter, roles: RoleServiceDep
) -> RoleResponse:
    role = await roles.create(data=data, principal=principal)
    return RoleResponse.model_validate(role)


@router.get(
    "/roles/{role_id}",
    response_model=RoleResponse,
    responses=error_responses(401, 403, 404),
    summary="One role, with its permissions",
)
async def read_role(
    role_id: uuid.UUID, principal: RolesReader, roles: RoleServiceDep
) -> RoleResponse:
    return RoleResponse.model_validate(await roles.get(role_id, principal=principal))


@router.patch(
    "/roles/{role_id}",
    response_model=RoleResponse,
    responses=error_responses(401, 403, 404, 409, 422),
    summary="Rename a role or change its description or permissions",
)
async def update_role(
    role_id: uuid.UUID,
    data: RoleUpdate,
    principal: RolesWriter,
    roles: RoleServiceDep,
) -> RoleResponse:
    role = await roles.update(role_id, data=data, principal=principal)
    return RoleResponse.model_validate(role)


@router.delete(
    "/roles/{role_id}",
    status_code=status.HTTP_204_NO_CONTENT,
    responses=error_responses(401, 403, 404, 409),
    summary="Delete a role that no user holds (seeded roles stay)",
)
async def delete_role(role_id: uuid.UUID, principal: RolesWriter, roles: RoleServiceDep) -> None:
    await roles.delete(role_id, principal=principal)


@router.get(
    "/permissions",
    response_model=PageResponse[PermissionResponse],
    responses=error_responses(401, 403, 422),
    summary="The permission catalog",
)
async def list_permissions(
    principal: RolesReader, roles: RoleServiceDep, page: PageParamsDep
) -> PageResponse[PermissionResponse]:
    return PageResponse[PermissionResponse].from_page(
        await roles.permissions(principal=principal, params=page)
    )
