"""Logging: JSON lines in production, readable lines elsewhere (coloured in development, even
without a terminal, unless NO_COLOR), a rotating file per process where configured, the service
and request id on every line, and tokens masked wherever they slip in."""

from __future__ import annotations

import io
import json
import logging
import sys
from collections.abc import Callable, Iterator
from contextlib import AbstractAsyncContextManager
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi import APIRouter, FastAPI, Request
from sqlalchemy import text

from common.context import request_id_var
from common.logging import (
    ConsoleFormatter,
    ContextFilter,
    JsonFormatter,
    configure_logging,
    log_file_for,
    redact,
)
from common.runtime import service_core
from common.settings import ServiceSettings

AppFactory = Callable[..., FastAPI]
ClientOpener = Callable[[FastAPI], AbstractAsyncContextManager[httpx.AsyncClient]]

JWT = (
    "eyJhbGciOiJSUzI1NiIsInR5cCI6ImF0K2p3dCJ9"
    ".eyJzdWIiOiIxMjM0NTY3ODkwIiwiZXhwIjoxNzAwMDAwMDAwfQ"
    ".c2lnbmF0dXJlLWJ5dGVzLWhlcmU"
)


ARGON2 = "$argon2id$v=19$m=19456,t=2,p=1$+h4Lqgdj/s5W8Hl+7F2X4g$EpjFNDV1lXq0Ckb6Z7+7bA"


def settings(**overrides: Any) -> ServiceSettings:
    values: dict[str, Any] = {"service_name": "billing", "environment": "test"}
    values.update(overrides)
    return ServiceSettings(_env_file=None, **values)


def production(**overrides: Any) -> ServiceSettings:
    return settings(
        environment="production",
        secret_key="s" * 40,
        trusted_hosts=["api.example.com"],
        jwt_issuer="https://auth.example.com",
        **overrides,
    )


@pytest.fixture
def restore_root_logging() -> Iterator[None]:
    """`configure_logging` replaces the root handlers; put the previous ones back afterwards."""
    root = logging.getLogger()
    handlers, level = list(root.handlers), root.level
    yield
    for handler in list(root.handlers):
        root.removeHandler(handler)
        handler.close()
    for handler in handlers:
        root.addHandler(handler)
    root.setLevel(level)


def capture(
    formatter: logging.Formatter, service: str = "billing"
) -> tuple[logging.Logger, io.StringIO]:
    """A logger of its own that writes through `formatter` into a string."""
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(formatter)
    handler.addFilter(ContextFilter(service))
    logger = logging.getLogger(f"common.tests.logging.{id(stream)}")
    logger.handlers = [handler]
    logger.propagate = False
    logger.setLevel(logging.DEBUG)
    return logger, stream


class TestRedact:
    def test_masks_a_jwt(self) -> None:
        assert redact(f"token={JWT} rest") == "token=[redacted-jwt] rest"

    def test_masks_a_bearer_token(self) -> None:
        text = "Authorization: Bearer opaque-refresh_token.value~1"

        assert redact(text) == "Authorization: Bearer [redacted]"

    def test_bearer_is_matched_in_any_case(self) -> None:
        assert redact("authorization: bearer abc123") == "authorization: bearer [redacted]"

    def test_a_bearer_jwt_is_masked(self) -> None:
        redacted = redact(f"Authorization: Bearer {JWT}")

        assert "eyJ" not in redacted
        assert "Bearer [redacted" in redacted

    def test_leaves_ordinary_text_alone(self) -> None:
        text = "user 42 logged in from 10.0.0.1 (eyJ is not enough)"

        assert redact(text) == text

    @pytest.mark.parametrize("variant", ["argon2id", "argon2i", "argon2d"])
    def test_masks_an_argon2_hash(self, variant: str) -> None:
        stored = ARGON2.replace("argon2id", variant)

        assert redact(f"('a@example.com', '{stored}', None)") == (
            "('a@example.com', '[redacted-hash]', None)"
        )

    def test_masks_a_bcrypt_hash(self) -> None:
        stored = "$2b$12$" + "a" * 53

        assert redact(f"hash={stored} next") == "hash=[redacted-hash] next"

    def test_masks_the_row_postgresql_quotes_in_a_constraint_error(self) -> None:
        detail = (
            "DETAIL:  Failing row contains (u@example.com, null, secret (with parens), t).\n"
            "[SQL: UPDATE users SET is_active=$1]"
        )

        assert redact(detail) == (
            "DETAIL:  Failing row contains [redacted-row].\n[SQL: UPDATE users SET is_active=$1]"
        )

    def test_masks_a_private_key_block(self) -> None:
        pem = "-----BEGIN PRIVATE KEY-----\nMIIEvQIBADANBg\n-----END PRIVATE KEY-----"

        assert redact(f"key: {pem} done") == "key: [redacted-private-key] done"


class TestJsonFormatter:
    def test_a_line_is_one_json_object_with_the_standard_fields(self) -> None:
        logger, stream = capture(JsonFormatter())
        token = request_id_var.set("req-7")
        try:
            logger.warning("disk at %d%%", 91)
        finally:
            request_id_var.reset(token)

        entry = json.loads(stream.getvalue())
        assert entry["level"] == "WARNING"
        assert entry["message"] == "disk at 91%"
        assert entry["service"] == "billing"
        assert entry["request_id"] == "req-7"
        assert entry["logger"] == logger.name
        assert entry["ts"].endswith("+00:00")

    def test_one_line_per_record(self) -> None:
        logger, stream = capture(JsonFormatter())

        logger.info("first\nwith a newline")
        logger.info("second")

        lines = stream.getvalue().splitlines()
        assert [json.loads(line)["message"] for line in lines] == [
            "first\nwith a newline",
            "second",
        ]

    def test_request_id_is_null_outside_a_request(self) -> None:
        logger, stream = capture(JsonFormatter())

        logger.info("startup")

        assert json.loads(stream.getvalue())["request_id"] is None

    def test_an_explicit_request_id_wins_over_the_context(self) -> None:
        logger, stream = capture(JsonFormatter())
        token = request_id_var.set("from-context")
        try:
            logger.info("handled", extra={"request_id": "explicit"})
        finally:
            request_id_var.reset(token)

        assert json.loads(stream.getvalue())["request_id"] == "explicit"

    def test_extra_fields_are_included(self) -> None:
        logger, stream = capture(JsonFormatter())

        logger.info("login", extra={"user_id": "u-1", "attempt": 2})

        entry = json.loads(stream.getvalue())
        assert (entry["user_id"], entry["attempt"]) == ("u-1", 2)

    def test_secrets_in_extra_fields_are_redacted(self) -> None:
        logger, stream = capture(JsonFormatter())

        logger.info(
            "login",
            extra={"token": JWT, "row": {"password_hash": ARGON2}, "user_id": "u-1", "tries": 2},
        )

        entry = json.loads(stream.getvalue())
        assert JWT not in stream.getvalue()
        assert ARGON2 not in stream.getvalue()
        assert entry["token"] == "[redacted-jwt]"
        assert "[redacted-hash]" in entry["row"]
        assert (entry["user_id"], entry["tries"]) == ("u-1", 2)

    def test_tokens_in_the_message_are_redacted(self) -> None:
        logger, stream = capture(JsonFormatter())

        logger.info("calling with Authorization: Bearer %s", JWT)

        entry = json.loads(stream.getvalue())
        assert JWT not in stream.getvalue()
        assert "Bearer [redacted" in entry["message"]

    def test_the_traceback_is_included_and_redacted(self) -> None:
        logger, stream = capture(JsonFormatter())

        try:
            raise ValueError(f"bad token {JWT}")
        except ValueError:
            logger.exception("failed")

        entry = json.loads(stream.getvalue())
        assert "Traceback" in entry["exc_info"]
        assert "ValueError: bad token [redacted-jwt]" in entry["exc_info"]
        assert JWT not in stream.getvalue()

    def test_non_ascii_text_is_kept_readable(self) -> None:
        logger, stream = capture(JsonFormatter())

        logger.info("Grüße, Zoë")

        assert "Grüße, Zoë" in stream.getvalue()


class TestConsoleFormatter:
    def test_a_line_names_level_service_logger_and_request_id(self) -> None:
        logger, stream = capture(ConsoleFormatter(colour=False))
        token = request_id_var.set("req-9")
        try:
            logger.error("payment failed")
        finally:
            request_id_var.reset(token)

        line = stream.getvalue().rstrip("\n")
        assert line.endswith(f"ERROR    billing {logger.name} [req-9] payment failed")
        assert "\x1b[" not in line

    def test_a_line_outside_a_request_shows_a_dash_for_its_id(self) -> None:
        logger, stream = capture(ConsoleFormatter(colour=False))

        logger.info("started")

        assert (
            stream.getvalue().rstrip("\n").endswith(f"INFO     billing {logger.name} [-] started")
        )

    def test_the_dash_is_only_in_the_line_not_in_the_record(self) -> None:
        """A JSON handler formatting the same record afterwards still writes null."""
        logger, stream = capture(ConsoleFormatter(colour=False))
        json_stream = io.StringIO()
        json_handler = logging.StreamHandler(json_stream)
        json_handler.setFormatter(JsonFormatter())
        logger.addHandler(json_handler)

        logger.info("started")

        assert "[-] started" in stream.getvalue()
        assert json.loads(json_stream.getvalue())["request_id"] is None

    def test_colours_only_when_asked(self) -> None:
        logger, stream = capture(ConsoleFormatter(colour=True))

        logger.warning("careful")

        line = stream.getvalue().rstrip("\n")
        assert line.startswith("\x1b[33m")
        assert line.endswith("\x1b[0m")

    def test_tokens_are_redacted(self) -> None:
        logger, stream = capture(ConsoleFormatter(colour=False))

        logger.info("token %s", JWT)

        assert JWT not in stream.getvalue()
        assert "[redacted-jwt]" in stream.getvalue()


class TestLogFileFor:
    def test_an_explicit_file_wins(self, tmp_path: Path) -> None:
        assert log_file_for(settings(log_file=tmp_path / "x.log")) == tmp_path / "x.log"

    def test_development_writes_to_var_log(self) -> None:
        assert log_file_for(settings(environment="development")) == Path("var/log/billing.log")

    def test_a_process_beside_the_main_one_gets_a_file_of_its_own(self) -> None:
        development = settings(environment="development")

        assert log_file_for(development, "worker") == Path("var/log/billing-worker.log")
        assert log_file_for(development, "worker-2") == Path("var/log/billing-worker-2.log")
        assert log_file_for(development, "beat") == Path("var/log/billing-beat.log")

    def test_an_explicit_file_is_named_per_process_too(self, tmp_path: Path) -> None:
        explicit = settings(log_file=tmp_path / "billing.log")

        assert log_file_for(explicit, "beat") == tmp_path / "billing-beat.log"

    def test_no_file_for_a_process_where_there_is_none(self) -> None:
        assert log_file_for(settings(environment="test"), "worker") is None

    def test_no_file_in_tests_by_default(self) -> None:
        assert log_file_for(settings(environment="test")) is None

    def test_no_file_in_production_by_default(self) -> None:
        assert log_file_for(production()) is None


@pytest.mark.usefixtures("restore_root_logging")
class TestConfigureLogging:
    def test_production_writes_json_lines_to_stderr(
        self, capsys: pytest.CaptureFixture[str]
    ) -> None:
        configure_logging(production())

        logging.getLogger("billing.jobs").info("job done")

        [line] = capsys.readouterr().err.splitlines()
        entry = json.loads(line)
        assert (entry["service"], entry["level"], entry["message"]) == (
            "billing",
            "INFO",
            "job done",
        )

    def test_development_writes_readable_lines(
        self, capsys: pytest.CaptureFixture[str], tmp_path: Path
    ) -> None:
        configure_logging(settings(environment="development", log_file=tmp_path / "dev.log"))

        logging.getLogger("billing.jobs").info("job done")

        err = capsys.readouterr().err
        assert "INFO     billing billing.jobs [-] job done" in err
        with pytest.raises(json.JSONDecodeError):
            json.loads(err)

    def test_the_log_file_gets_the_same_lines(self, tmp_path: Path) -> None:
        log_file = tmp_path / "logs" / "billing.log"
        configure_logging(settings(log_file=log_file, log_json=True))
        token = request_id_var.set("req-file")
        try:
            logging.getLogger("billing.jobs").warning("to the file")
        finally:
            request_id_var.reset(token)

        entry = json.loads(log_file.read_text(encoding="utf-8"))
        assert (entry["message"], entry["request_id"], entry["service"]) == (
            "to the file",
            "req-file",
            "billing",
        )

    def test_the_log_file_rotates_and_keeps_the_configured_backups(self, tmp_path: Path) -> None:
        log_file = tmp_path / "billing.log"
        configure_logging(settings(log_file=log_file, log_file_max_bytes=500, log_file_backups=2))

        for number in range(60):
            logging.getLogger("billing.jobs").info("line number %d with some padding", number)

        names = sorted(p.name for p in tmp_path.iterdir())
        assert names == ["billing.log", "billing.log.1", "billing.log.2"]
        assert all(p.stat().st_size <= 500 for p in tmp_path.iterdir())
        assert "line number 59" in log_file.read_text(encoding="utf-8")

    def test_calling_twice_replaces_the_handlers(self) -> None:
        root = logging.getLogger()
        foreign = set(root.handlers)
        configure_logging(settings())
        configure_logging(settings())

        [ours] = [handler for handler in root.handlers if handler not in foreign]
        assert isinstance(ours, logging.StreamHandler)
        assert ours.stream is sys.stderr

    def test_handlers_someone_else_added_stay(self) -> None:
        """An error tracker's handler, or the test harness's log scan, survives (re)configuring."""
        root = logging.getLogger()
        theirs = logging.NullHandler()
        root.addHandler(theirs)
        configure_logging(settings())
        configure_logging(settings())

        assert theirs in root.handlers

    def test_the_level_comes_from_the_settings(self, capsys: pytest.CaptureFixture[str]) -> None:
        configure_logging(settings(log_level="warning"))

        logging.getLogger("billing.jobs").info("hidden")
        logging.getLogger("billing.jobs").warning("shown")

        err = capsys.readouterr().err
        assert "shown" in err
        assert "hidden" not in err

    def test_uvicorn_lines_go_through_our_handlers_once(
        self, capsys: pytest.CaptureFixture[str]
    ) -> None:
        configure_logging(settings())

        logging.getLogger("uvicorn.error").info("Started server process")
        logging.getLogger("uvicorn.access").info("127.0.0.1 GET / 200")

        err = capsys.readouterr().err
        assert err.count("Started server process") == 1
        assert "GET / 200" not in err

    def test_uvicorn_lines_follow_the_configured_level(
        self, capsys: pytest.CaptureFixture[str]
    ) -> None:
        logging.getLogger("uvicorn.error").setLevel(logging.INFO)  # as uvicorn's CLI leaves it
        configure_logging(settings(log_level="warning"))

        logging.getLogger("uvicorn.error").info("Waiting for application startup.")

        assert "Waiting for application startup." not in capsys.readouterr().err

    def test_uvicorns_coloured_copy_of_the_message_stays_out_of_json(
        self, capsys: pytest.CaptureFixture[str]
    ) -> None:
        configure_logging(settings(log_json=True))

        logging.getLogger("uvicorn.error").info(
            "Uvicorn running", extra={"color_message": "\x1b[1mUvicorn running\x1b[0m"}
        )

        line = json.loads(capsys.readouterr().err.strip().splitlines()[-1])
        assert line["message"] == "Uvicorn running"
        assert "color_message" not in line


@pytest.mark.usefixtures("restore_root_logging")
class TestConsoleColour:
    """What configure_logging writes to stderr, which is no terminal here, as under honcho."""

    GREEN = "\x1b[32m"

    @pytest.fixture(autouse=True)
    def no_colour_variables(self, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
        monkeypatch.delenv("NO_COLOR", raising=False)
        monkeypatch.delenv("FORCE_COLOR", raising=False)
        monkeypatch.chdir(tmp_path)  # development's log file, var/log/billing.log, goes there

    def written(self, capsys: pytest.CaptureFixture[str], configured: ServiceSettings) -> str:
        configure_logging(configured)
        logging.getLogger("billing.jobs").info("job done")
        return capsys.readouterr().err

    @pytest.mark.parametrize(
        ("variables", "configured", "coloured"),
        [
            pytest.param({}, settings(environment="development"), True, id="development"),
            pytest.param(
                {"NO_COLOR": "1"}, settings(environment="development"), False, id="NO_COLOR"
            ),
            pytest.param(
                {"NO_COLOR": ""}, settings(environment="development"), True, id="empty NO_COLOR"
            ),
            pytest.param({}, settings(environment="test"), False, id="test, no terminal"),
            pytest.param(
                {"FORCE_COLOR": "1"}, settings(environment="test"), True, id="FORCE_COLOR"
            ),
            pytest.param(
                {"FORCE_COLOR": "1", "NO_COLOR": "1"},
                settings(environment="development"),
                False,
                id="NO_COLOR wins over FORCE_COLOR",
            ),
            pytest.param(
                {"FORCE_COLOR": "1"}, production(log_json=False), False, id="never in production"
            ),
        ],
    )
    def test_when_lines_are_coloured(
        self,
        capsys: pytest.CaptureFixture[str],
        monkeypatch: pytest.MonkeyPatch,
        variables: dict[str, str],
        configured: ServiceSettings,
        coloured: bool,
    ) -> None:
        for name, value in variables.items():
            monkeypatch.setenv(name, value)

        err = self.written(capsys, configured)

        assert "[-] job done" in err
        if coloured:
            assert err.startswith(self.GREEN)
            assert err.endswith("\x1b[0m\n")
        else:
            assert "\x1b[" not in err

    def test_json_lines_are_never_coloured(
        self, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
    ) -> None:
        monkeypatch.setenv("FORCE_COLOR", "1")

        err = self.written(capsys, settings(environment="development", log_json=True))

        assert json.loads(err)["message"] == "job done"

    def test_the_log_file_is_never_coloured(
        self, capsys: pytest.CaptureFixture[str], tmp_path: Path
    ) -> None:
        log_file = tmp_path / "billing.log"

        err = self.written(capsys, settings(environment="development", log_file=log_file))

        assert err.startswith(self.GREEN)
        assert "\x1b[" not in log_file.read_text(encoding="utf-8")
        assert "[-] job done" in log_file.read_text(encoding="utf-8")


class TestRequestLines:
    async def test_a_failing_statement_logs_neither_its_parameters_nor_the_row(
        self,
        make_app: AppFactory,
        running: ClientOpener,
        tmp_path: Path,
        restore_root_logging: None,
    ) -> None:
        """The review's finding: a NOT NULL violation while updating an account answered 500
        and the error line carried the account's argon2 hash, in the statement's parameters and
        in the row PostgreSQL quotes in its DETAIL."""
        log_file = tmp_path / "errors.log"
        router = APIRouter()

        @router.post("/accounts")
        async def store(request: Request) -> dict[str, str]:
            async with service_core(request.app).database.engine.connect() as connection:
                await connection.execute(
                    text(
                        "CREATE TEMPORARY TABLE account "
                        "(email text, password_hash text, is_active boolean NOT NULL)"
                    )
                )
                await connection.execute(
                    text("INSERT INTO account VALUES (:email, :hash, :active)"),
                    {"email": "ada@example.com", "hash": ARGON2, "active": None},
                )
            return {}

        app = make_app(routers=[router], log_file=log_file, log_json=True)
        async with running(app) as client:
            response = await client.post("/api/v1/accounts")

        assert response.status_code == 500
        written = log_file.read_text(encoding="utf-8")
        [error] = [json.loads(line) for line in written.splitlines() if '"ERROR"' in line]
        assert "NotNullViolationError" in error["exc_info"]
        assert "Failing row contains [redacted-row]" in error["exc_info"]
        assert "$argon2" not in written
        assert ARGON2.rsplit("$", maxsplit=1)[-1] not in written

    async def test_every_line_of_a_request_carries_its_id(
        self,
        make_app: AppFactory,
        running: ClientOpener,
        tmp_path: Path,
        restore_root_logging: None,
    ) -> None:
        log_file = tmp_path / "requests.log"
        router = APIRouter()

        @router.get("/work")
        async def work() -> dict[str, str]:
            logging.getLogger("billing.work").info("step one")
            logging.getLogger("billing.work").info("step two")
            return {}

        app = make_app(routers=[router], log_file=log_file, log_json=True, service_name="billing")
        async with running(app) as client:
            response = await client.get("/api/v1/work")

        entries = [json.loads(line) for line in log_file.read_text(encoding="utf-8").splitlines()]
        steps = [e for e in entries if e["logger"] == "billing.work"]
        assert [e["message"] for e in steps] == ["step one", "step two"]
        assert {e["request_id"] for e in steps} == {response.headers["x-request-id"]}
        assert {e["service"] for e in steps} == {"billing"}
