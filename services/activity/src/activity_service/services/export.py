"""Export formats: NDJSON (one event per line, the API's event shape) and CSV (one column per
stored column). Both are written a batch of rows at a time, as the cursor delivers them."""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Sequence
from dataclasses import dataclass
from enum import StrEnum
from typing import Any, Final

from activity_service.crud import COLUMNS
from activity_service.schemas import EventResponse


class ExportFormat(StrEnum):
    NDJSON = "ndjson"
    CSV = "csv"


@dataclass(frozen=True, slots=True)
class FormatSpec:
    media_type: str
    extension: str


FORMATS: Final = {
    ExportFormat.NDJSON: FormatSpec("application/x-ndjson", "ndjson"),
    ExportFormat.CSV: FormatSpec("text/csv; charset=utf-8", "csv"),
}

# A cell a spreadsheet would run as a formula (CSV injection, OWASP) gets a leading apostrophe.
_FORMULA_STARTS: Final = ("=", "+", "-", "@", "\t", "\r")


def ndjson_lines(rows: Sequence[Any]) -> bytes:
    return b"".join(
        EventResponse.model_validate(row).model_dump_json().encode() + b"\n" for row in rows
    )


def csv_header() -> bytes:
    return _csv([list(COLUMNS)])


def csv_lines(rows: Sequence[Any]) -> bytes:
    return _csv([[_cell(row._mapping[name]) for name in COLUMNS] for row in rows])


def _cell(value: Any) -> Any:
    if value is None:
        return ""
    if isinstance(value, dict | list):
        return json.dumps(value, separators=(",", ":"), ensure_ascii=False)
    if hasattr(value, "isoformat"):
        return value.isoformat()
    if isinstance(value, str) and value.startswith(_FORMULA_STARTS):
        return "'" + value
    return value


def _csv(rows: list[list[Any]]) -> bytes:
    buffer = io.StringIO()
    csv.writer(buffer, lineterminator="\r\n").writerows(rows)
    return buffer.getvalue().encode("utf-8")
