"""The error hierarchy: each class carries an HTTP status and a stable code; the handler that
turns them into answers is tested in `test_error_handlers.py`."""

from __future__ import annotations

import pytest

from common.errors import (
    BadRequest,
    Conflict,
    DomainError,
    InvalidCursor,
    InvalidInput,
    InvalidToken,
    NotAuthenticated,
    NotFound,
    PermissionDenied,
    RateLimited,
    ServiceUnavailable,
    TokenExpired,
)


class TestStatusAndCode:
    @pytest.mark.parametrize(
        ("error", "status", "code"),
        [
            (BadRequest, 400, "bad_request"),
            (NotFound, 404, "not_found"),
            (Conflict, 409, "conflict"),
            (InvalidInput, 422, "validation_error"),
            (InvalidCursor, 422, "invalid_cursor"),
            (NotAuthenticated, 401, "not_authenticated"),
            (InvalidToken, 401, "invalid_token"),
            (TokenExpired, 401, "token_expired"),
            (PermissionDenied, 403, "permission_denied"),
            (ServiceUnavailable, 503, "service_unavailable"),
        ],
    )
    def test_each_error_has_its_status_and_code(
        self, error: type[DomainError], status: int, code: str
    ) -> None:
        raised = error()

        assert (raised.status_code, raised.code) == (status, code)
        assert isinstance(raised, DomainError)

    def test_rate_limited_is_429(self) -> None:
        raised = RateLimited(retry_after=30)

        assert (raised.status_code, raised.code) == (429, "rate_limited")

    def test_token_errors_are_authentication_errors(self) -> None:
        assert issubclass(TokenExpired, InvalidToken)
        assert issubclass(InvalidToken, NotAuthenticated)


class TestMessage:
    def test_defaults_to_the_class_message(self) -> None:
        raised = NotFound()

        assert raised.detail == "The resource does not exist."
        assert str(raised) == "The resource does not exist."

    def test_a_given_message_replaces_the_default(self) -> None:
        raised = NotFound("No such role.")

        assert raised.detail == "No such role."
        assert str(raised) == "No such role."

    def test_details_are_kept(self) -> None:
        raised = InvalidInput(details=[{"field": "email"}])

        assert raised.details == [{"field": "email"}]

    def test_a_service_subclass_sets_its_own_code(self) -> None:
        class UserNotFound(NotFound):
            code = "user_not_found"
            message = "No such user."

        raised = UserNotFound()

        assert (raised.status_code, raised.code, raised.detail) == (
            404,
            "user_not_found",
            "No such user.",
        )


class TestHeaders:
    def test_headers_are_copied_not_shared(self) -> None:
        headers = {"X-Thing": "1"}
        raised = BadRequest(headers=headers)
        headers["X-Thing"] = "2"

        assert raised.headers == {"X-Thing": "1"}

    def test_not_authenticated_carries_the_bearer_challenge(self) -> None:
        assert NotAuthenticated().headers == {"WWW-Authenticate": 'Bearer realm="api"'}

    def test_invalid_token_challenge_names_the_error(self) -> None:
        assert TokenExpired().headers["WWW-Authenticate"] == (
            'Bearer realm="api", error="invalid_token"'
        )

    def test_a_given_challenge_is_kept(self) -> None:
        raised = NotAuthenticated(headers={"WWW-Authenticate": 'Basic realm="flower"'})

        assert raised.headers["WWW-Authenticate"] == 'Basic realm="flower"'

    def test_rate_limited_says_when_to_retry(self) -> None:
        assert RateLimited(retry_after=42).headers == {"Retry-After": "42"}

    @pytest.mark.parametrize("retry_after", [0, -5])
    def test_rate_limited_never_asks_to_retry_in_less_than_a_second(self, retry_after: int) -> None:
        raised = RateLimited(retry_after=retry_after)

        assert raised.retry_after == 1
        assert raised.headers == {"Retry-After": "1"}
