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

from common.errors import RateLimited
from common.schemas import (
    ErrorResponse,
    RequestModel,
    ResponseModel,
    UtcDateTime,
    error_responses,
)
from common.testing import assert_documented

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

    async def test_a_429_documents_the_retry_after_every_rate_limit_sends(
        self, make_app: AppFactory, running: ClientOpener
    ) -> None:
        """A client generated from the document knows when it may try again; the fuzzing pass
        checks every 429 against this."""
        router = APIRouter()

        @router.post("/attempts", responses=error_responses(429))
        async def attempt() -> None:
            raise RateLimited(retry_after=30)

        app = make_app(routers=[router])
        async with running(app) as client:
            refused = await client.post("/api/v1/attempts")
            schema = (await client.get("/openapi.json")).json()

        documented = schema["paths"]["/api/v1/attempts"]["post"]["responses"]["429"]
        assert documented["headers"]["Retry-After"]["required"] is True
        assert documented["headers"]["Retry-After"]["schema"] == {"type": "integer", "minimum": 1}
        assert_documented(schema, "POST", "/api/v1/attempts", refused)
        assert refused.headers["retry-after"] == "30"
