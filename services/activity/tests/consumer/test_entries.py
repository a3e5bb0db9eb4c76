"""Parsing stream entries, and the dead-letter copy of one that cannot be stored."""

from __future__ import annotations

import json

import pytest

from activity_service.consumer.entries import InvalidEntry, dead_letter_fields, parse_entry
from common.audit import MAX_EVENT_BYTES, MAX_METADATA_BYTES, Actor

from ..conftest import MakeEvent


class TestParseEntry:
    def test_reads_the_event_field(self, make_event: MakeEvent) -> None:
        event = make_event()
        parsed = parse_entry({b"event": event.to_json().encode()})
        assert (parsed.event_id, parsed.action) == (event.id, event.action)

    @pytest.mark.parametrize(
        ("fields", "reason"),
        [
            ({b"payload": b"{}"}, "the entry has no 'event' field"),
            ({b"event": b"not json"}, "not valid JSON"),
            ({b"event": b"\xff\xfe"}, "not valid JSON"),
            ({b"event": b'{"v": 1}'}, "not a valid audit event: service: Field required"),
            ({b"event": b"[]"}, "not a valid audit event"),
            (
                {b"event": b'{"occurred_at": "0001-01-01T00:00:00+01:00"}'},
                "not a valid audit event: occurred_at: Value error, the time is out of range",
            ),
        ],
    )
    def test_says_why_an_entry_is_not_an_event(
        self, fields: dict[bytes, bytes], reason: str
    ) -> None:
        with pytest.raises(InvalidEntry) as caught:
            parse_entry(fields)
        assert caught.value.reason.startswith(reason)

    def test_an_oversized_document_is_refused_before_it_is_parsed(
        self, make_event: MakeEvent
    ) -> None:
        """The largest valid event is far smaller (metadata is bounded); a bigger entry is not
        worth the memory its parsing takes."""
        padding = b" " * MAX_EVENT_BYTES
        with pytest.raises(InvalidEntry) as caught:
            parse_entry({b"event": make_event().to_json().encode() + padding})
        assert caught.value.reason == f"the event is larger than {MAX_EVENT_BYTES} bytes"

    def test_the_largest_metadata_fits(self, make_event: MakeEvent) -> None:
        # A control character is written `\u0001` both when metadata is measured and in the
        # entry: 6 bytes each, the most a character takes in both.
        metadata = {"blob": "\x01" * (MAX_METADATA_BYTES // 6 - 4)}
        event = make_event(metadata=metadata, actor=Actor(type="user", user_agent="x" * 512))
        assert parse_entry({b"event": event.to_json().encode()}).event_id == event.id

    def test_never_echoes_the_input(self, make_event: MakeEvent) -> None:
        document = json.loads(make_event().to_json())
        document["outcome"] = "hunter2-secret"
        with pytest.raises(InvalidEntry) as caught:
            parse_entry({b"event": json.dumps(document).encode()})
        assert "outcome" in caught.value.reason
        assert "hunter2" not in caught.value.reason

    def test_a_number_json_cannot_carry_is_invalid(self, make_event: MakeEvent) -> None:
        document = make_event().to_json().replace('"metadata":{"n":1}', '"metadata":{"n":NaN}')
        with pytest.raises(InvalidEntry) as caught:
            parse_entry({b"event": document.encode()})
        assert caught.value.reason == (
            "not a valid audit event: metadata: "
            "Value error, metadata holds a number JSON cannot carry (NaN or infinity)"
        )

    def test_an_unstorable_event_is_invalid(self, make_event: MakeEvent) -> None:
        event = make_event(request_id="a\x00b")
        with pytest.raises(InvalidEntry, match="NUL"):
            parse_entry({b"event": event.to_json().encode()})


class TestDeadLetterFields:
    def test_keeps_the_original_fields_and_adds_why_and_where(self) -> None:
        letter = dead_letter_fields(
            {b"event": b"not json"},
            reason="not valid JSON",
            entry_id=b"1-0",
            deliveries=5,
            consumer="host-1",
        )
        assert letter == {
            b"event": b"not json",
            b"reason": b"not valid JSON",
            b"original_id": b"1-0",
            b"deliveries": b"5",
            b"consumer": b"host-1",
        }

    def test_an_original_field_with_one_of_our_names_is_kept_aside(self) -> None:
        letter = dead_letter_fields(
            {b"reason": b"theirs"}, reason="ours", entry_id=b"1-0", deliveries=1, consumer="c"
        )
        assert (letter[b"reason"], letter[b"original.reason"]) == (b"ours", b"theirs")
