"""The log scan of a test run: every record logged in the test process (the apps under test
included) is formatted as our handlers would write it, JSON line and console line, and searched
for secrets. A run whose logs carry one fails, whatever its tests said.

Redaction (`common.logging.redact`) is meant to mask these; the scan finds what it missed: a
shape it does not know, a part of a record it does not look at, a record that goes around it.
Its patterns are written apart from redaction's, so one broken pattern is not also a broken
check. Only shapes that are recognisable without false alarms are searched for.

Not covered: processes the tests start (Celery worker, consumer), whose logs stay in theirs.
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass

from common.logging import ConsoleFormatter, JsonFormatter

SECRET_SHAPES: dict[str, re.Pattern[str]] = {
    "argon2 hash": re.compile(r"\$argon2(?:id|i|d)\$v=\d+\$m=\d+,t=\d+,p=\d+\$[A-Za-z0-9+/]{4,}"),
    "bcrypt hash": re.compile(r"\$2[abxy]?\$\d\d\$[./A-Za-z0-9]{22}"),
    # A signed JWT: a JSON header and a JSON payload, both base64url ("eyJ" is `{"`).
    "JWT": re.compile(r"eyJ[A-Za-z0-9_-]{4,}\.eyJ[A-Za-z0-9_-]{4,}\.[A-Za-z0-9_-]*"),
    "bearer token": re.compile(r"(?i)\bbearer\s+[A-Za-z0-9._~+/-]{16,}"),
    "private key": re.compile(r"-----BEGIN [A-Z ]*PRIVATE KEY-----"),
    # PostgreSQL quoting a whole row (password hash included) in a constraint error's DETAIL.
    "database row": re.compile(r"Failing row contains \("),
}
MAX_FINDINGS = 50


@dataclass(frozen=True, slots=True)
class Finding:
    shape: str
    test: str
    logger: str
    excerpt: str

    def describe(self) -> str:
        return f"{self.shape} logged by {self.logger!r} during {self.test}: {self.excerpt}"


def _masked(secret: str) -> str:
    """Enough to recognise the secret in the run's own logs, not enough to use it."""
    return f"{secret[:12]}... ({len(secret)} characters)"


def find_secrets(text: str) -> list[tuple[str, str]]:
    """`(shape, masked excerpt)` of every secret in `text`."""
    return [
        (shape, _masked(match.group()))
        for shape, pattern in SECRET_SHAPES.items()
        for match in pattern.finditer(text)
    ]


class LogScan(logging.Handler):
    """A root handler that keeps what `find_secrets` finds in each record, as written by the
    production (JSON) and development (console) formatters."""

    def __init__(self) -> None:
        super().__init__(level=logging.NOTSET)
        self.findings: list[Finding] = []
        self.missed = 0
        self.current_test = "(outside any test)"
        self._formatters: tuple[logging.Formatter, ...] = (
            JsonFormatter(),
            ConsoleFormatter(colour=False),
        )

    def emit(self, record: logging.LogRecord) -> None:
        # A copy: the formatters cache the traceback text on the record they format.
        copy = logging.makeLogRecord(dict(vars(record)))
        copy.__dict__.setdefault("service", None)
        copy.__dict__.setdefault("request_id", None)
        found: set[tuple[str, str]] = set()
        for formatter in self._formatters:
            found.update(find_secrets(formatter.format(copy)))
        for shape, excerpt in sorted(found):
            if len(self.findings) < MAX_FINDINGS:
                self.findings.append(Finding(shape, self.current_test, record.name, excerpt))
            else:
                self.missed += 1

    def report(self) -> list[str]:
        lines = [finding.describe() for finding in self.findings]
        if self.missed:
            lines.append(f"... and {self.missed} more")
        return lines
