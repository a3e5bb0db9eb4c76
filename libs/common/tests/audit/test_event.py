"""The audit event schema: validated, versioned, UTC, and never carrying secrets."""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime, timedelta, timezone

import pytest
from pydantic import ValidationError

from common.audit import ANONYMOUS, MAX_METADATA_DEPTH, Actor, AuditEvent, Resource, scrub

JWT = "eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiIxMjM0NSJ9.c2lnbmF0dXJlLXBhcnQ"


def event(**overrides: object) -> AuditEvent:
    values: dict[str, object] = {
        "service": "auth",
        "action": "auth.user.login",
        "actor": Actor(type="user", id="u-1", ip="10.0.0.1"),
    }
    values.update(overrides)
    return AuditEvent.model_validate(values)


class TestAuditEvent:
    def test_fills_in_id_time_version_and_outcome(self) -> None:
        built = event()

        assert built.v == 1
        assert isinstance(built.id, uuid.UUID)
        assert built.occurred_at.tzinfo is not None
        assert built.outcome == "success"
        assert built.metadata == {}

    def test_times_are_kept_in_utc(self) -> None:
        local = datetime(2026, 1, 1, 12, 0, tzinfo=timezone(timedelta(hours=2)))

        assert event(occurred_at=local).occurred_at.isoformat() == "2026-01-01T10:00:00+00:00"

    @pytest.mark.parametrize(
        "occurred_at",
        [
            "0001-01-01T00:00:00+01:00",  # year 0 in UTC
            "9999-12-31T23:30:00-01:00",  # year 10000 in UTC
        ],
    )
    def test_a_time_with_no_utc_value_is_a_validation_error(self, occurred_at: str) -> None:
        """Such a time once escaped validation as an OverflowError."""
        document = json.loads(event().to_json()) | {"occurred_at": occurred_at}

        with pytest.raises(ValidationError) as caught:
            AuditEvent.from_json(json.dumps(document))

        (error,) = caught.value.errors()
        assert error["loc"] == ("occurred_at",)
        assert "out of range once converted to UTC" in error["msg"]

    def test_the_first_and_last_instants_of_the_calendar_are_times(self) -> None:
        first = datetime(1, 1, 1, 1, 0, tzinfo=timezone(timedelta(hours=1)))
        last = datetime(9999, 12, 31, 22, 59, 59, 999999, tzinfo=timezone(timedelta(hours=-1)))

        assert event(occurred_at=first).occurred_at == datetime(1, 1, 1, tzinfo=UTC)
        assert event(occurred_at=last).occurred_at == datetime.max.replace(tzinfo=UTC)

    @pytest.mark.parametrize(
        "occurred_at", ["10000-01-01T00:00:00Z", 1e300, float("nan"), "NaN", True, None]
    )
    def test_times_that_are_no_times_are_refused(self, occurred_at: object) -> None:
        document = json.loads(event().to_json()) | {"occurred_at": occurred_at}

        with pytest.raises(ValidationError, match="occurred_at"):
            AuditEvent.from_json(json.dumps(document))

    def test_naive_times_are_refused(self) -> None:
        with pytest.raises(ValidationError):
            event(occurred_at=datetime(2026, 1, 1, 12, 0))

    def test_round_trips_through_json(self) -> None:
        built = event(resource=Resource(type="user", id="u-1"), metadata={"n": [1, "two"]})

        assert AuditEvent.from_json(built.to_json()) == built
        assert json.loads(built.stream_fields()["event"])["action"] == "auth.user.login"

    @pytest.mark.parametrize(
        "action", ["login", "Auth.user.login", "auth..login", "auth.user login", "a." + "b" * 130]
    )
    def test_actions_are_dotted_lower_case_names(self, action: str) -> None:
        with pytest.raises(ValidationError):
            event(action=action)

    def test_unknown_fields_and_actor_types_are_refused(self) -> None:
        with pytest.raises(ValidationError):
            event(extra="field")
        with pytest.raises(ValidationError):
            event(actor={"type": "robot"})

    def test_metadata_must_be_json(self) -> None:
        with pytest.raises(ValidationError):
            event(metadata={"when": datetime.now().astimezone()})

    @pytest.mark.parametrize("number", [float("nan"), float("inf"), float("-inf")])
    def test_metadata_numbers_are_finite(self, number: float) -> None:
        """JSON has no NaN or infinity; PostgreSQL's JSONB refuses them."""
        with pytest.raises(ValidationError, match="NaN or infinity"):
            event(metadata={"nested": [{"value": number}]})

    @pytest.mark.parametrize("literal", [b"NaN", b"Infinity", b"-Infinity", b"1e999"])
    def test_metadata_numbers_in_a_document_are_finite(self, literal: bytes) -> None:
        empty = b'"metadata":{}'
        document = event().to_json().encode().replace(empty, b'"metadata":{"x":' + literal + b"}")

        with pytest.raises(ValidationError, match="NaN or infinity"):
            AuditEvent.from_json(document)

    def test_metadata_nesting_is_bounded(self) -> None:
        deepest: object = 1
        for _ in range(MAX_METADATA_DEPTH - 1):
            deepest = {"in": deepest}

        assert event(metadata={"x": deepest}).metadata == {"x": deepest}
        with pytest.raises(ValidationError, match=f"deeper than {MAX_METADATA_DEPTH} levels"):
            event(metadata={"x": [deepest]})

    def test_metadata_is_size_bounded(self) -> None:
        with pytest.raises(ValidationError, match="larger than"):
            event(metadata={"blob": "x" * 20_000})


class TestSecrets:
    @pytest.mark.parametrize(
        "key",
        [
            "password",
            "new_password",
            "Refresh_Token",
            "client_secret",
            "api_key",
            "Authorization",
            "private_key",
            "otp",
        ],
    )
    def test_values_under_secret_names_are_redacted(self, key: str) -> None:
        built = event(metadata={key: "hunter2", "email": "a@example.com"})

        assert built.metadata == {key: "[redacted]", "email": "a@example.com"}

    def test_nested_secrets_and_tokens_in_text_are_redacted(self) -> None:
        built = event(
            metadata={
                "request": {"headers": {"authorization": "Bearer abc"}, "note": f"got {JWT}"},
                "items": [{"token": "t"}, "Bearer abc.def"],
            }
        )

        assert built.metadata == {
            "request": {"headers": {"authorization": "[redacted]"}, "note": "got [redacted-jwt]"},
            "items": [{"token": "[redacted]"}, "Bearer [redacted]"],
        }
        assert "hunter2" not in built.to_json()
        assert JWT not in built.to_json()

    def test_scrub_leaves_plain_values_alone(self) -> None:
        assert scrub({"count": 3, "ok": True, "none": None}) == {
            "count": 3,
            "ok": True,
            "none": None,
        }

    def test_anonymous_actor_has_no_id(self) -> None:
        assert ANONYMOUS.type == "anonymous"
        assert ANONYMOUS.id is None
