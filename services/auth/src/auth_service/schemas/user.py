from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated, Any

from pydantic import Field, StrictBool, field_validator
from pydantic.json_schema import SkipJsonSchema

from common.schemas import RequestModel, ResponseModel

RoleName = Annotated[str, Field(min_length=1, max_length=64)]


class UserResponse(ResponseModel):
    id: uuid.UUID
    email: str
    email_verified: bool
    full_name: str | None
    is_active: bool
    roles: list[str]
    created_at: datetime
    updated_at: datetime
    last_login_at: datetime | None

    @field_validator("roles", mode="before")
    @classmethod
    def _role_names(cls, value: Any) -> Any:
        return [getattr(r, "name", r) for r in value]


class MeUpdate(RequestModel):
    full_name: Annotated[str | None, Field(max_length=200)]


class UserAdminUpdate(RequestModel):
    """PATCH: only the fields sent change. `full_name: null` clears the name; `is_active` is
    true or false (left out, it stays as it is)."""

    full_name: Annotated[str | None, Field(max_length=200)] = None
    is_active: StrictBool | SkipJsonSchema[None] = None

    @field_validator("is_active")
    @classmethod
    def _not_null(cls, value: bool | None) -> bool:
        if value is None:
            raise ValueError("is_active must be true or false")
        return value


class UserRolesUpdate(RequestModel):
    roles: Annotated[list[RoleName], Field(max_length=50)]
