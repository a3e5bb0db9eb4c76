"""Base classes of request and response bodies, and the documented error shape."""

from __future__ import annotations

from collections.abc import Callable
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass
from datetime import UTC, datetime

import httpx
import pytest
from fastapi import APIRouter, FastAPI
from pydantic import TypeAdapter, ValidationError

from common.schemas import (
    ErrorResponse,
    RequestModel,
    ResponseModel,
    UtcDateTime,
    error_responses,
)

AppFactory = Callable[..., FastAPI]
ClientOpener = Callable[[FastAPI], AbstractAsyncContextManager[httpx.AsyncClient]]


class Registration(RequestModel):
    email: str


class UserOut(ResponseModel):
    id: int
    email: str


@dataclass
class User:
    id: int
    email: str
    password_hash: str


class TestUtcDateTime:
    adapter = TypeAdapter(UtcDateTime)

    def test_gives_the_time_back_in_utc(self) -> None:
        assert self.adapter.validate_python("2026-03-01T14:00:00+02:00") == datetime(
            2026, 3, 1, 12, tzinfo=UTC
        )

    @pytest.mark.parametrize("value", ["0001-01-01T00:00:00+01:00", "9999-12-31T23:00:00-01:00"])
    def test_a_time_with_no_utc_value_is_a_validation_error(self, value: str) -> None:
        with pytest.raises(ValidationError, match="out of range once converted to UTC"):
            self.adapter.validate_python(value)

    def test_a_time_without_a_zone_is_refused(self) -> None:
        with pytest.raises(ValidationError, match="timezone"):
            self.adapter.validate_python("2026-03-01T12:00:00")


class TestRequestModel:
    def test_unknown_fields_are_refused(self) -> None:
        with pytest.raises(ValidationError) as caught:
            Registration.model_validate({"email": "a@example.com", "is_superuser": True})

        [error] = caught.value.errors()
        assert (error["type"], error["loc"]) == ("extra_forbidden", ("is_superuser",))

    def test_known_fields_are_accepted(self) -> None:
        assert Registration.model_validate({"email": "a@example.com"}).email == "a@example.com"


class TestResponseModel:
    def test_is_built_from_an_object_and_keeps_only_its_fields(self) -> None:
        user = User(id=1, email="a@example.com", password_hash="secret-hash")

        body = UserOut.model_validate(user).model_dump()

        assert body == {"id": 1, "email": "a@example.com"}


class TestErrorResponses:
    def test_documents_each_status_with_the_shared_error_shape(self) -> None:
        responses = error_responses(401, 404, 418)

        assert responses == {
            401: {"model": ErrorResponse, "description": "Missing, invalid or expired credentials"},
            404: {"model": ErrorResponse, "description": "Not found"},
            418: {"model": ErrorResponse, "description": "Error"},
        }

    async def test_the_openapi_schema_shows_the_error_shape(
        self, make_app: AppFactory, running: ClientOpener
    ) -> None:
        router = APIRouter()

        @router.get("/users/{user_id}", responses=error_responses(404))
        async def get_user(user_id: int) -> UserOut:
            return UserOut(id=user_id, email="a@example.com")

        async with running(make_app(routers=[router])) as client:
            schema = (await client.get("/openapi.json")).json()

        documented = schema["paths"]["/api/v1/users/{user_id}"]["get"]["responses"]["404"]
        assert documented["content"]["application/json"]["schema"] == {
            "$ref": "#/components/schemas/ErrorResponse"
        }
        error_body = schema["components"]["schemas"]["ErrorBody"]
        assert set(error_body["required"]) == {"code", "message", "request_id"}
