"""Errors of the activity service. Codes are part of the API: clients branch on them."""

from __future__ import annotations

from common.errors import InvalidInput, NotFound


class EventNotFound(NotFound):
    """Also the answer for someone else's event: its existence is not revealed."""

    code = "event_not_found"
    message = "The event does not exist."


class InvalidTimeRange(InvalidInput):
    code = "invalid_time_range"
    message = "`until` must be later than `since`."


class InvalidSeqRange(InvalidInput):
    code = "invalid_seq_range"
    message = "`to_seq` must not be smaller than `from_seq`."
