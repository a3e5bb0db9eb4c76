"""Values PostgreSQL cannot store are refused per event, before any database work."""

from __future__ import annotations

import pytest

from activity_service.services.event_rows import NewEvent, UnstorableEvent
from common.audit import Actor

from ..conftest import MakeEvent


class TestFromAuditEvent:
    def test_flattens_actor_and_resource(self, make_event: MakeEvent) -> None:
        event = make_event(actor_id="u-9", resource=("file", "f-1"), metadata={"size": 3})
        new = NewEvent.from_audit_event(event)
        assert (new.event_id, new.actor_type, new.actor_id) == (event.id, "user", "u-9")
        assert (new.resource_type, new.resource_id) == ("file", "f-1")
        assert new.metadata_json == '{"size":3}'

    def test_an_event_without_resource(self, make_event: MakeEvent) -> None:
        new = NewEvent.from_audit_event(make_event(resource=None))
        assert (new.resource_type, new.resource_id) == (None, None)

    @pytest.mark.parametrize(
        ("fields", "reason"),
        [
            ({"request_id": "a\x00b"}, "request_id contains a NUL character"),
            ({"actor": Actor(type="user", id="\x00")}, "actor.id contains a NUL character"),
            ({"metadata": {"note": "x\x00"}}, "metadata contains a NUL character"),
            ({"metadata": {"k\x00": 1}}, "metadata key contains a NUL character"),
            ({"metadata": {"s": "\ud800"}}, "metadata is not valid Unicode"),
        ],
    )
    def test_refuses_what_postgresql_cannot_store(
        self, make_event: MakeEvent, fields: dict[str, object], reason: str
    ) -> None:
        with pytest.raises(UnstorableEvent, match=reason.replace("(", r"\(")):
            NewEvent.from_audit_event(make_event(**fields))

    @pytest.mark.parametrize("metadata", [{"nan": float("nan")}, {"inf": [float("inf")]}])
    def test_refuses_numbers_json_cannot_carry_even_past_validation(
        self, make_event: MakeEvent, metadata: dict[str, object]
    ) -> None:
        """The schema refuses them; an event copied with changes (no validation) still cannot
        carry them into a batch."""
        event = make_event().model_copy(update={"metadata": metadata})
        with pytest.raises(UnstorableEvent, match="metadata cannot be stored as JSON"):
            NewEvent.from_audit_event(event)
