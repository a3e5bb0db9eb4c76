from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated, Any

from pydantic import Field, field_validator

from common.schemas import RequestModel, ResponseModel

RoleName = Annotated[str, Field(pattern=r"^[a-z][a-z0-9_]{1,63}$")]
PermissionName = Annotated[str, Field(min_length=1, max_length=100)]
PermissionList = Annotated[list[PermissionName], Field(max_length=200)]


class PermissionResponse(ResponseModel):
    name: str
    description: str


class RoleResponse(ResponseModel):
    id: uuid.UUID
    name: str
    description: str
    is_system: bool
    permissions: list[str]
    created_at: datetime
    updated_at: datetime

    @field_validator("permissions", mode="before")
    @classmethod
    def _permission_names(cls, value: Any) -> Any:
        return [getattr(p, "name", p) for p in value]


class RoleCreate(RequestModel):
    name: RoleName
    description: Annotated[str, Field(max_length=255)] = ""
    permissions: PermissionList = []


class RoleUpdate(RequestModel):
    name: RoleName | None = None
    description: Annotated[str | None, Field(max_length=255)] = None
    permissions: PermissionList | None = None
