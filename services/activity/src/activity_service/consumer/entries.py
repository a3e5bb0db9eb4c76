"""Stream entries: from the fields of an entry to a `NewEvent`, and the dead-letter copy of an
entry that could not be stored."""

from __future__ import annotations

from typing import Final

from pydantic import ValidationError

from activity_service.services.event_rows import NewEvent, UnstorableEvent
from common.audit import EVENT_FIELD, MAX_EVENT_BYTES, AuditEvent

Fields = dict[bytes, bytes]
Entry = tuple[bytes, Fields]

EVENT_KEY: Final = EVENT_FIELD.encode()
DEAD_LETTER_KEYS: Final = (b"reason", b"original_id", b"deliveries", b"consumer")
_MAX_ERRORS_DESCRIBED = 3


class InvalidEntry(Exception):
    """The entry does not hold a storable audit event; `reason` says why."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


def parse_entry(fields: Fields) -> NewEvent:
    """The event of an entry, or `InvalidEntry`: whatever goes wrong while reading one entry
    is that entry's failure (it follows the retry and dead-letter path), never the consumer's."""
    document = fields.get(EVENT_KEY)
    if document is None:
        raise InvalidEntry(f"the entry has no {EVENT_FIELD!r} field")
    if len(document) > MAX_EVENT_BYTES:
        raise InvalidEntry(f"the event is larger than {MAX_EVENT_BYTES} bytes")
    try:
        event = AuditEvent.from_json(document)
    except ValidationError as exc:
        raise InvalidEntry(describe(exc)) from exc
    except Exception as exc:  # a value that escaped validation: refuse the entry, not the batch
        raise InvalidEntry(f"the event could not be read ({exc.__class__.__name__})") from exc
    try:
        return NewEvent.from_audit_event(event)
    except UnstorableEvent as exc:
        raise InvalidEntry(str(exc)) from exc
    except Exception as exc:
        raise InvalidEntry(f"the event could not be stored ({exc.__class__.__name__})") from exc


def describe(exc: ValidationError) -> str:
    """What is wrong, without echoing the input (it may hold anything)."""
    errors = exc.errors(include_url=False, include_input=False, include_context=False)
    if errors and errors[0]["type"] == "json_invalid":
        return f"not valid JSON: {errors[0]['msg']}"
    parts = [
        f"{'.'.join(str(p) for p in error['loc']) or 'document'}: {error['msg']}"
        for error in errors[:_MAX_ERRORS_DESCRIBED]
    ]
    more = len(errors) - _MAX_ERRORS_DESCRIBED
    suffix = f" (and {more} more)" if more > 0 else ""
    return "not a valid audit event: " + "; ".join(parts) + suffix


def dead_letter_fields(
    fields: Fields, *, reason: str, entry_id: bytes, deliveries: int, consumer: str
) -> Fields:
    """The entry's own fields, plus why and where it failed. An original field that has the
    name of one of ours is kept as `original.<name>`."""
    letter = {
        (b"original." + key if key in DEAD_LETTER_KEYS else key): value
        for key, value in fields.items()
    }
    letter.update(
        {
            b"reason": reason.encode(),
            b"original_id": entry_id,
            b"deliveries": str(deliveries).encode(),
            b"consumer": consumer.encode(),
        }
    )
    return letter
