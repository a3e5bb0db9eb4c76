"""The one place errors become answers: every error is `{"error": {"code", "message",
"request_id"}}` with the `X-Request-ID` header; nothing the client sent and nothing internal
leaks into it."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager
from typing import Annotated

import httpx
import pytest
from fastapi import APIRouter, FastAPI, Form, Request
from pydantic import Field
from sqlalchemy import String, bindparam, cast, select, text
from starlette.exceptions import HTTPException

from common.db import CompiledQuery
from common.errors import InvalidInput, NotAuthenticated, NotFound, RateLimited
from common.runtime import service_core
from common.schemas import RequestModel
from common.testing import assert_error, free_port

AppFactory = Callable[..., FastAPI]
ClientOpener = Callable[[FastAPI], AbstractAsyncContextManager[httpx.AsyncClient]]

SECRET = "hunter2-do-not-echo"
MAX_BODY = 1024


class UserNotFound(NotFound):
    code = "user_not_found"
    message = "No such user."


class Signup(RequestModel):
    email: str = Field(min_length=3)
    password: str = Field(min_length=12)
    age: int


router = APIRouter()


@router.post("/signups", status_code=201)
async def signup(body: Signup) -> dict[str, str]:
    return {"email": body.email}


@router.post("/forms")
async def form(name: Annotated[str, Form()]) -> dict[str, str]:
    return {"name": name}


@router.get("/bad")
async def bad() -> dict[str, str]:
    raise HTTPException(status_code=400, detail="Not like that.")


@router.post("/pings")
async def ping() -> dict[str, str]:
    return {"pong": "without reading the body"}


@router.get("/items/{item_id}")
async def get_item(item_id: int) -> dict[str, int]:
    return {"id": item_id}


@router.get("/users/{user_id}")
async def get_user(user_id: str) -> dict[str, str]:
    raise UserNotFound


@router.get("/me")
async def me() -> dict[str, str]:
    raise NotAuthenticated


@router.get("/limited")
async def limited() -> dict[str, str]:
    raise RateLimited(retry_after=7)


@router.post("/imports")
async def import_rows() -> dict[str, str]:
    raise InvalidInput("Row 3 is not valid.", details=[{"row": 3, "reason": "missing email"}])


@router.get("/gone")
async def gone() -> dict[str, str]:
    raise HTTPException(status_code=410)


@router.get("/forbidden")
async def forbidden() -> dict[str, str]:
    raise HTTPException(status_code=403, detail="Not for you.", headers={"X-Reason": "policy"})


@router.get("/boom")
async def boom() -> dict[str, str]:
    raise RuntimeError(f"internal detail {SECRET}")


@router.get("/db/busy")
async def db_busy(request: Request) -> dict[str, str]:
    database = service_core(request.app).database
    # The pool holds one connection plus one overflow; the third waits and times out.
    async with (
        database.engine.connect() as first,
        database.engine.connect() as second,
        database.engine.connect() as third,
    ):
        for connection in (first, second, third):
            await connection.execute(text("SELECT 1"))
    return {}


@router.get("/db/lost")
async def db_lost(request: Request) -> dict[str, str]:
    database = service_core(request.app).database
    async with database.engine.connect() as victim, database.engine.connect() as killer:
        pid = (await victim.execute(text("SELECT pg_backend_pid()"))).scalar_one()
        await killer.execute(text("SELECT pg_terminate_backend(:pid)"), {"pid": pid})
        await victim.execute(text("SELECT 1"))
    return {}


@router.get("/db/bug")
async def db_bug(request: Request) -> dict[str, str]:
    database = service_core(request.app).database
    async with database.engine.connect() as connection:
        await connection.execute(text("SELECT * FROM no_such_table"))
    return {}


@router.get("/db/echo")
async def db_echo(request: Request, value: str) -> dict[str, str]:
    """Hands a client's value to PostgreSQL through SQLAlchemy."""
    database = service_core(request.app).database
    async with database.engine.connect() as connection:
        await connection.execute(text("SELECT CAST(:value AS text)"), {"value": value})
    return {}


@router.get("/db/echo-raw")
async def db_echo_raw(request: Request, value: str) -> dict[str, str]:
    """The same through a CompiledQuery, which raises asyncpg's own errors."""
    database = service_core(request.app).database
    await ECHO.first_row(database.engine, value=value)
    return {}


ECHO = CompiledQuery(select(cast(bindparam("value"), String)))


@router.get("/redis")
async def redis_ping(request: Request) -> dict[str, str]:
    await service_core(request.app).redis.ping()
    return {}


@router.get("/redis/busy")
async def redis_busy(request: Request) -> dict[str, str]:
    """Asks Redis while the pool's only connection is taken (REDIS_MAX_CONNECTIONS=1)."""
    pool = service_core(request.app).redis.connection_pool
    held = await pool.get_connection()  # type: ignore[no-untyped-call]  # redis-py leaves it unannotated
    try:
        await service_core(request.app).redis.ping()
    finally:
        await pool.release(held)
    return {}


@pytest.fixture
async def client(make_app: AppFactory, running: ClientOpener) -> AsyncIterator[httpx.AsyncClient]:
    app = make_app(
        routers=[router],
        max_body_size=MAX_BODY,
        db_pool_size=1,
        db_max_overflow=1,
        db_pool_timeout=0.2,
    )
    async with running(app) as http:
        yield http


def assert_generic_headers(response: httpx.Response) -> None:
    assert response.headers["content-type"] == "application/json"
    assert len(response.headers["x-request-id"]) == 32


class TestDomainErrors:
    async def test_a_service_error_is_answered_with_its_status_and_code(
        self, client: httpx.AsyncClient
    ) -> None:
        response = await client.get("/api/v1/users/42")

        error = assert_error(response, 404, "user_not_found")
        assert error == {
            "code": "user_not_found",
            "message": "No such user.",
            "request_id": response.headers["x-request-id"],
        }
        assert_generic_headers(response)

    async def test_the_errors_headers_are_sent(self, client: httpx.AsyncClient) -> None:
        response = await client.get("/api/v1/me")

        assert_error(response, 401, "not_authenticated")
        assert response.headers["www-authenticate"] == 'Bearer realm="api"'

    async def test_rate_limited_sends_retry_after(self, client: httpx.AsyncClient) -> None:
        response = await client.get("/api/v1/limited")

        assert_error(response, 429, "rate_limited")
        assert response.headers["retry-after"] == "7"

    async def test_details_are_included_when_the_error_has_them(
        self, client: httpx.AsyncClient
    ) -> None:
        response = await client.post("/api/v1/imports")

        error = assert_error(response, 422, "validation_error")
        assert error["message"] == "Row 3 is not valid."
        assert error["details"] == [{"row": 3, "reason": "missing email"}]

    async def test_the_request_id_of_the_caller_is_in_the_body(
        self, client: httpx.AsyncClient
    ) -> None:
        response = await client.get("/api/v1/users/42", headers={"X-Request-ID": "trace-1"})

        error = assert_error(response, 404, "user_not_found")
        assert error["request_id"] == "trace-1"


class TestValidationErrors:
    async def test_invalid_body_is_422_with_field_details(self, client: httpx.AsyncClient) -> None:
        response = await client.post(
            "/api/v1/signups", json={"email": "a@example.com", "password": "short", "age": 30}
        )

        error = assert_error(response, 422, "validation_error")
        assert error["message"] == "The request is not valid."
        assert error["details"] == [
            {
                "loc": ["body", "password"],
                "msg": "String should have at least 12 characters",
                "type": "string_too_short",
            }
        ]

    async def test_the_submitted_input_is_never_echoed(self, client: httpx.AsyncClient) -> None:
        response = await client.post(
            "/api/v1/signups",
            json={"email": "a@example.com", "password": SECRET, "age": "not a number"},
        )

        error = assert_error(response, 422, "validation_error")
        assert SECRET not in response.text
        assert "not a number" not in response.text
        assert all(set(detail) == {"loc", "msg", "type"} for detail in error["details"])

    async def test_unknown_fields_are_refused_without_echoing_them(
        self, client: httpx.AsyncClient
    ) -> None:
        response = await client.post(
            "/api/v1/signups",
            json={
                "email": "a@example.com",
                "password": "long enough password",
                "age": 30,
                "is_superuser": SECRET,
            },
        )

        error = assert_error(response, 422, "validation_error")
        assert error["details"][0]["loc"] == ["body", "is_superuser"]
        assert error["details"][0]["type"] == "extra_forbidden"
        assert SECRET not in response.text

    async def test_invalid_path_parameter_is_422(self, client: httpx.AsyncClient) -> None:
        # Not hex digits: the answer's random request id cannot contain them by chance.
        response = await client.get("/api/v1/items/not-a-number")

        error = assert_error(response, 422, "validation_error")
        assert error["details"][0]["loc"] == ["path", "item_id"]
        assert "not-a-number" not in response.text

    async def test_malformed_json_is_422_malformed_json(self, client: httpx.AsyncClient) -> None:
        response = await client.post(
            "/api/v1/signups",
            content=b'{"email": "a@example.com", "password": "' + SECRET.encode(),
            headers={"Content-Type": "application/json"},
        )

        error = assert_error(response, 422, "malformed_json")
        assert error["message"] == "The request body is not valid JSON."
        assert error["details"][0]["type"] == "json_invalid"
        assert SECRET not in response.text

    @pytest.mark.parametrize(
        "content_type",
        ["application/json", "application/json; charset=utf-8", "application/merge-patch+json"],
    )
    async def test_json_that_is_not_utf8_is_422_malformed_json_too(
        self, client: httpx.AsyncClient, content_type: str
    ) -> None:
        """FastAPI answers it 400 "There was an error parsing the body"."""
        response = await client.post(
            "/api/v1/signups",
            content=b'{"email": "\xff\xfe", "password": "' + SECRET.encode() + b'"}',
            headers={"Content-Type": content_type},
        )

        error = assert_error(response, 422, "malformed_json")
        assert error["message"] == "The request body is not valid JSON."
        assert error["details"] == [
            {"loc": ["body"], "msg": "The body is not UTF-8 JSON", "type": "json_invalid"}
        ]
        assert SECRET not in response.text

    @pytest.mark.parametrize(
        ("content_type", "body"),
        [
            ("multipart/form-data", b"name=x"),
            ("multipart/form-data; boundary=b", b"--b\r\nno colon here\r\n\r\nx\r\n--b--"),
        ],
        ids=["no boundary", "broken part"],
    )
    async def test_a_form_body_that_cannot_be_parsed_is_422_malformed_body(
        self, client: httpx.AsyncClient, content_type: str, body: bytes
    ) -> None:
        """Starlette answers it 400 with the multipart parser's complaint."""
        response = await client.post(
            "/api/v1/forms", content=body, headers={"Content-Type": content_type}
        )

        error = assert_error(response, 422, "malformed_body")
        assert error["message"] == "The request body could not be parsed."

    async def test_a_well_formed_form_is_read(self, client: httpx.AsyncClient) -> None:
        response = await client.post("/api/v1/forms", data={"name": "ada"})

        assert response.json() == {"name": "ada"}

    async def test_a_400_a_route_raises_stays_a_400(self, client: httpx.AsyncClient) -> None:
        response = await client.get("/api/v1/bad")

        error = assert_error(response, 400, "bad_request")
        assert error["message"] == "Not like that."


class TestHttpErrors:
    async def test_unknown_route_is_404_not_found(self, client: httpx.AsyncClient) -> None:
        response = await client.get("/api/v1/no-such-thing")

        error = assert_error(response, 404, "not_found")
        assert error["message"] == "Not Found"
        assert_generic_headers(response)

    async def test_wrong_method_is_405_with_the_allowed_methods(
        self, client: httpx.AsyncClient
    ) -> None:
        response = await client.delete("/api/v1/signups")

        error = assert_error(response, 405, "method_not_allowed")
        assert error["message"] == "Method Not Allowed"
        assert response.headers["allow"] == "POST"

    async def test_an_http_exception_keeps_its_detail_and_headers(
        self, client: httpx.AsyncClient
    ) -> None:
        response = await client.get("/api/v1/forbidden")

        error = assert_error(response, 403, "permission_denied")
        assert error["message"] == "Not for you."
        assert response.headers["x-reason"] == "policy"

    async def test_an_unmapped_status_gets_a_code_from_its_phrase(
        self, client: httpx.AsyncClient
    ) -> None:
        response = await client.get("/api/v1/gone")

        error = assert_error(response, 410, "gone")
        assert error["message"] == "Gone"


class TestBodySize:
    async def test_a_declared_body_over_the_limit_is_413_json(
        self, client: httpx.AsyncClient
    ) -> None:
        response = await client.post(
            "/api/v1/signups",
            json={"email": "a@example.com", "password": "x" * MAX_BODY, "age": 1},
        )

        error = assert_error(response, 413, "payload_too_large")
        assert response.headers["cache-control"] == "no-store"
        assert "x" * 100 not in response.text
        assert error["message"]

    async def test_a_declared_oversize_body_is_refused_before_the_route_runs(
        self, client: httpx.AsyncClient
    ) -> None:
        response = await client.post("/api/v1/pings", content=b"x" * (MAX_BODY + 1))

        assert_error(response, 413, "payload_too_large")
        assert "pong" not in response.text

    async def test_a_streamed_body_over_the_limit_is_413_json(
        self, client: httpx.AsyncClient
    ) -> None:
        async def chunks() -> AsyncIterator[bytes]:
            yield b'{"email": "a@example.com", "password": "'
            for _ in range(4):
                yield b"x" * 512
            yield b'", "age": 1}'

        response = await client.post(
            "/api/v1/signups", content=chunks(), headers={"Content-Type": "application/json"}
        )

        assert_error(response, 413, "payload_too_large")

    async def test_a_body_within_the_limit_is_accepted(self, client: httpx.AsyncClient) -> None:
        response = await client.post(
            "/api/v1/signups",
            json={"email": "a@example.com", "password": "x" * 900, "age": 1},
        )

        assert response.status_code == 201
        assert response.json() == {"email": "a@example.com"}


class TestUnexpectedErrors:
    async def test_is_a_generic_500_that_reveals_nothing(self, client: httpx.AsyncClient) -> None:
        response = await client.get("/api/v1/boom")

        error = assert_error(response, 500, "internal_error")
        assert error["message"] == "An unexpected error occurred."
        assert SECRET not in response.text
        assert "RuntimeError" not in response.text
        assert "Traceback" not in response.text

    async def test_the_traceback_is_logged_with_the_request_id(
        self, client: httpx.AsyncClient, caplog: pytest.LogCaptureFixture
    ) -> None:
        response = await client.get("/api/v1/boom", headers={"X-Request-ID": "boom-1"})

        assert_error(response, 500, "internal_error")
        [record] = [r for r in caplog.records if r.name == "common.error_handlers"]
        assert record.levelno == logging.ERROR
        assert record.getMessage() == "unhandled error on GET /api/v1/boom"
        assert getattr(record, "request_id", None) == "boom-1"
        assert record.exc_info is not None
        assert SECRET in caplog.text
        assert "Traceback" in caplog.text

    async def test_the_500_still_carries_the_shared_headers(
        self, client: httpx.AsyncClient
    ) -> None:
        response = await client.get("/api/v1/boom")

        assert_error(response, 500, "internal_error")
        assert response.headers["cache-control"] == "no-store"
        assert response.headers["x-content-type-options"] == "nosniff"
        assert response.headers["server-timing"].startswith("app;dur=")

    async def test_a_database_bug_is_a_500_too(self, client: httpx.AsyncClient) -> None:
        response = await client.get("/api/v1/db/bug")

        assert_error(response, 500, "internal_error")
        assert "no_such_table" not in response.text


class TestOutages:
    async def test_an_exhausted_pool_is_503_database_busy(self, client: httpx.AsyncClient) -> None:
        response = await client.get("/api/v1/db/busy")

        error = assert_error(response, 503, "database_busy")
        assert error["message"] == "The database is busy; try again shortly."
        assert response.headers["retry-after"] == "1"

    async def test_a_lost_database_connection_is_503_database_unavailable(
        self, client: httpx.AsyncClient
    ) -> None:
        response = await client.get("/api/v1/db/lost")

        assert_error(response, 503, "database_unavailable")

    async def test_a_database_refusing_connections_is_503_dependency_unavailable(
        self, make_app: AppFactory, running: ClientOpener
    ) -> None:
        closed = f"postgresql+asyncpg://postgres@127.0.0.1:{free_port()}/nowhere"
        app = make_app(routers=[router], database_url=closed)
        async with running(app) as client:
            response = await client.get("/api/v1/db/bug")

        error = assert_error(response, 503, "dependency_unavailable")
        assert "127.0.0.1" not in error["message"]

    @pytest.mark.parametrize("path", ["/api/v1/db/echo", "/api/v1/db/echo-raw"])
    async def test_a_value_postgres_refuses_is_422_invalid_value(
        self, client: httpx.AsyncClient, path: str
    ) -> None:
        response = await client.get(path, params={"value": "nul\x00byte"})

        error = assert_error(response, 422, "invalid_value")
        assert "NUL" in error["message"]

    async def test_an_unreachable_redis_is_503_redis_unavailable(
        self, make_app: AppFactory, running: ClientOpener
    ) -> None:
        app = make_app(routers=[router], redis_url=f"redis://127.0.0.1:{free_port()}/0")
        async with running(app) as client:
            response = await client.get("/api/v1/redis")

        error = assert_error(response, 503, "redis_unavailable")
        assert "127.0.0.1" not in error["message"]

    async def test_a_saturated_redis_pool_is_503_redis_busy_with_retry_after(
        self, make_app: AppFactory, running: ClientOpener
    ) -> None:
        app = make_app(routers=[router], redis_max_connections=1, redis_pool_timeout=0.1)
        async with running(app) as client:
            response = await client.get("/api/v1/redis/busy")

        error = assert_error(response, 503, "redis_busy")
        assert error["message"] == "The service is busy; try again shortly."
        assert response.headers["retry-after"] == "1"
