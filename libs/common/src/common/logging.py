"""Logging set-up shared by every process (API, worker, CLI).

Development: coloured, aligned console lines (unless NO_COLOR is set) and a rotating file of the
process's own. Production: one JSON object per line on stderr for the log collector. Every
record carries the service name and the request id of the request it belongs to (`-` outside
one in console lines, null in JSON).

Secrets that slip into a line are masked wherever they are (message, traceback, extra fields):
bearer tokens, JWTs, password hashes, private keys, and the row PostgreSQL quotes when a
constraint fails ("Failing row contains (...)": the whole row, password hash included). This is
the second line of defence; the first is not to put them there (the engine hides statement
parameters, `common.db.session`).
"""

from __future__ import annotations

import json
import logging
import logging.handlers
import os
import re
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, ClassVar, TextIO

from common.context import get_request_id
from common.settings import Environment, ServiceSettings

_JWT = re.compile(r"eyJ[A-Za-z0-9_-]{5,}\.[A-Za-z0-9_-]{5,}\.[A-Za-z0-9_-]+")
_BEARER = re.compile(r"(?i)(bearer\s+)[A-Za-z0-9._~+/=-]+")
# PHC strings of argon2 ($argon2id$v=19$m=...,t=...,p=...$salt$hash) and bcrypt ($2b$12$...).
_PASSWORD_HASH = re.compile(
    r"\$argon2(?:id|i|d)\$[A-Za-z0-9$=,+/.]*|\$2[abxy]?\$\d\d\$[./A-Za-z0-9]+"
)
_PRIVATE_KEY = re.compile(
    r"-----BEGIN ([A-Z ]*)PRIVATE KEY-----.*?(?:-----END \1PRIVATE KEY-----|$)", re.DOTALL
)
# PostgreSQL's DETAIL of a NOT NULL or CHECK violation quotes the whole row, on one line.
_FAILING_ROW = re.compile(r"(Failing row contains )\(.*\)")
# Record attributes that are not extras; uvicorn's `color_message` is its message with ANSI
# colours, noise in a JSON line.
_STANDARD_ATTRS = frozenset(vars(logging.makeLogRecord({}))) | {
    "message",
    "asctime",
    "color_message",
}


def redact(text: str) -> str:
    text = _PRIVATE_KEY.sub("[redacted-private-key]", text)
    text = _FAILING_ROW.sub(r"\1[redacted-row]", text)
    text = _PASSWORD_HASH.sub("[redacted-hash]", text)
    text = _JWT.sub("[redacted-jwt]", text)
    return _BEARER.sub(r"\1[redacted]", text)


def _redact_extra(value: Any) -> Any:
    """Text is redacted; other values keep their JSON shape unless something in them had to
    be masked, in which case the masked JSON text replaces them."""
    if isinstance(value, str):
        return redact(value)
    if value is None or isinstance(value, bool | int | float):
        return value
    text = json.dumps(value, default=str, ensure_ascii=False)
    masked = redact(text)
    return value if masked == text else masked


class ContextFilter(logging.Filter):
    """Stamps each record with the service and the current request id."""

    def __init__(self, service: str) -> None:
        super().__init__()
        self.service = service

    def filter(self, record: logging.LogRecord) -> bool:
        if getattr(record, "request_id", None) is None:
            record.request_id = get_request_id()
        record.service = self.service
        return True


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "ts": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "service": getattr(record, "service", None),
            "request_id": getattr(record, "request_id", None),
            "message": redact(record.getMessage()),
        }
        for key, value in vars(record).items():
            if key not in _STANDARD_ATTRS and key not in entry:
                entry[key] = _redact_extra(value)
        if record.exc_info:
            entry["exc_info"] = redact(self.formatException(record.exc_info))
        if record.stack_info:
            entry["stack_info"] = redact(self.formatStack(record.stack_info))
        return json.dumps(entry, default=str, ensure_ascii=False)


class ConsoleFormatter(logging.Formatter):
    COLOURS: ClassVar[dict[int, str]] = {
        logging.DEBUG: "\x1b[2m",
        logging.INFO: "\x1b[32m",
        logging.WARNING: "\x1b[33m",
        logging.ERROR: "\x1b[31m",
        logging.CRITICAL: "\x1b[1;31m",
    }
    RESET = "\x1b[0m"

    LINE = "%(asctime)s %(levelname)-8s %(service)s %(name)s [%(request_id)s] %(message)s"
    NO_REQUEST = "-"

    def __init__(self, *, colour: bool) -> None:
        super().__init__(self.LINE, datefmt="%H:%M:%S")
        self.colour = colour

    def formatMessage(self, record: logging.LogRecord) -> str:  # noqa: N802 (logging's name)
        """The line, with `-` for the request id of a record outside any request (the record
        itself keeps None: other handlers, JSON ones, write null)."""
        values = vars(record) | {
            "request_id": getattr(record, "request_id", None) or self.NO_REQUEST
        }
        return self.LINE % values

    def format(self, record: logging.LogRecord) -> str:
        text = redact(super().format(record))
        if not self.colour:
            return text
        return f"{self.COLOURS.get(record.levelno, '')}{text}{self.RESET}"


def console_colour(settings: ServiceSettings, stream: TextIO) -> bool:
    """Whether console lines are coloured. Never JSON lines or production; never with NO_COLOR
    set (https://no-color.org); always with FORCE_COLOR set; otherwise in development (its
    console is often no terminal: honcho pipes every process of `make dev`) or on a terminal."""
    if settings.json_logs or settings.environment is Environment.PRODUCTION:
        return False
    if os.environ.get("NO_COLOR"):
        return False
    if os.environ.get("FORCE_COLOR"):
        return True
    return settings.environment is Environment.DEVELOPMENT or stream.isatty()


def log_file_for(settings: ServiceSettings, process: str | None = None) -> Path | None:
    """The rotating file: LOG_FILE, or `var/log/<service>.log` in development. `process` names a
    process that runs beside the service's main one (`worker`, `beat`, `worker-1` for a pool
    process); it goes into the name (`auth-worker.log`), since Python's logging cannot share a
    file, and its rotation, between processes."""
    path = settings.log_file
    if path is None and settings.environment is Environment.DEVELOPMENT:
        path = Path("var") / "log" / f"{settings.service_name}.log"
    if path is None or process is None:
        return path
    return path.with_name(f"{path.stem}-{process}{path.suffix}")


# Set on the root handlers `configure_logging` installs, so that calling it again replaces them
# and only them: handlers others added (an error tracker's, the test harness's log scan) stay.
_OURS = "_installed_by_common_logging"


def configure_logging(settings: ServiceSettings, *, process: str | None = None) -> None:
    """Replace the root handlers it installed before; safe to call more than once (tests build
    many apps). `process`: see `log_file_for`."""
    context = ContextFilter(settings.service_name)
    console = logging.StreamHandler(sys.stderr)
    console.setFormatter(
        JsonFormatter()
        if settings.json_logs
        else ConsoleFormatter(colour=console_colour(settings, sys.stderr))
    )
    handlers: list[logging.Handler] = [console]
    log_file = log_file_for(settings, process)
    if log_file is not None:
        log_file.parent.mkdir(parents=True, exist_ok=True)
        rotating = logging.handlers.RotatingFileHandler(
            log_file,
            maxBytes=settings.log_file_max_bytes,
            backupCount=settings.log_file_backups,
            encoding="utf-8",
        )
        rotating.setFormatter(
            JsonFormatter() if settings.json_logs else ConsoleFormatter(colour=False)
        )
        handlers.append(rotating)
    root = logging.getLogger()
    for old in [h for h in root.handlers if getattr(h, _OURS, False)]:
        root.removeHandler(old)
        old.close()
    for handler in handlers:
        handler.addFilter(context)
        setattr(handler, _OURS, True)
        root.addHandler(handler)
    root.setLevel(settings.log_level.upper())
    # Uvicorn's own handlers would print a second, unstructured copy of each line; our access
    # line (RequestContextMiddleware) replaces uvicorn.access.
    for name in ("uvicorn", "uvicorn.error"):
        uvicorn_logger = logging.getLogger(name)
        uvicorn_logger.handlers.clear()
        uvicorn_logger.propagate = True
        uvicorn_logger.setLevel(logging.NOTSET)  # follow LOG_LEVEL, not uvicorn's INFO
    logging.getLogger("uvicorn.access").disabled = True
