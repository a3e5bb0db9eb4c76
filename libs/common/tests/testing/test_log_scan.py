"""The log scan of the test run: secrets in what our handlers would write fail the run, and
secrets that redaction masks do not."""

from __future__ import annotations

import logging
from collections.abc import Iterator

import pytest

import common.logging
from common.logging import redact
from common.testing.log_scan import SECRET_SHAPES, LogScan, find_secrets

pytest_plugins = ["pytester"]

SECRETS = {
    "argon2 hash": "$argon2id$v=19$m=19456,t=2,p=1$+h4Lqgdj/s5W8Hl+7F2X4g$EpjFNDV1lXq0Ckb6Z7+7bA",
    "bcrypt hash": "$2b$12$" + "R9h/cIPz0gi.URNNX3kh2O" + "PST9/PgBkqquzi.Ss7KIUgO2t0jWMUW",
    "JWT": "eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiI0MiJ9.c2lnbmF0dXJlLWJ5dGVz",
    "bearer token": "Authorization: Bearer 9f8e7d6c5b4a39281706f5e4",
    "private key": "-----BEGIN RSA PRIVATE KEY-----\nMIIEow\n-----END RSA PRIVATE KEY-----",
    "database row": "DETAIL:  Failing row contains (a@example.com, null, t).",
}


class TestFindSecrets:
    def test_every_shape_has_an_example(self) -> None:
        assert set(SECRETS) == set(SECRET_SHAPES)

    @pytest.mark.parametrize(("shape", "secret"), SECRETS.items())
    def test_finds_each_shape(self, shape: str, secret: str) -> None:
        assert [found for found, _ in find_secrets(f"before {secret} after")] == [shape]

    @pytest.mark.parametrize(("shape", "secret"), SECRETS.items())
    def test_finds_nothing_once_redacted(self, shape: str, secret: str) -> None:
        assert find_secrets(redact(f"before {secret} after")) == []

    def test_the_excerpt_does_not_repeat_the_secret(self) -> None:
        [(_, excerpt)] = find_secrets(SECRETS["JWT"])

        assert SECRETS["JWT"] not in excerpt
        assert excerpt.startswith(SECRETS["JWT"][:12])

    @pytest.mark.parametrize(
        "text",
        [
            "user 42 logged in from 10.0.0.1",
            "token_type bearer, expires_in 900",
            "price: $2 for 12 items",
            "eyJ alone is not a token",
        ],
    )
    def test_ordinary_text_is_not_a_finding(self, text: str) -> None:
        assert find_secrets(text) == []


@pytest.fixture
def scanned() -> Iterator[tuple[logging.Logger, LogScan]]:
    scan = LogScan()
    logger = logging.getLogger(f"common.tests.log_scan.{id(scan)}")
    logger.addHandler(scan)
    logger.propagate = False
    logger.setLevel(logging.DEBUG)
    try:
        yield logger, scan
    finally:
        logger.removeHandler(scan)


class TestLogScan:
    def test_secrets_that_redaction_masks_are_no_finding(
        self, scanned: tuple[logging.Logger, LogScan]
    ) -> None:
        logger, scan = scanned

        logger.warning("stored %s", SECRETS["argon2 hash"], extra={"token": SECRETS["JWT"]})
        try:
            raise ValueError(SECRETS["database row"])
        except ValueError:
            logger.exception("update failed")

        assert scan.findings == []

    def test_a_secret_that_gets_past_redaction_is_a_finding(
        self, scanned: tuple[logging.Logger, LogScan], monkeypatch: pytest.MonkeyPatch
    ) -> None:
        logger, scan = scanned
        scan.current_test = "tests/test_x.py::test_y"
        monkeypatch.setattr(common.logging, "redact", lambda text: text)  # redaction broken

        logger.warning("stored %s", SECRETS["argon2 hash"])

        [finding] = scan.findings
        assert (finding.shape, finding.test, finding.logger) == (
            "argon2 hash",
            "tests/test_x.py::test_y",
            logger.name,
        )
        assert SECRETS["argon2 hash"] not in finding.describe()


LEAKING_TEST = """
import logging

import common.logging

HASH = "$argon2id$v=19$m=19456,t=2,p=1$+h4Lqgdj/s5W8Hl+7F2X4g$EpjFNDV1lXq0Ckb6Z7+7bA"


def test_logs_a_hash(monkeypatch):
    if {broken}:
        monkeypatch.setattr(common.logging, "redact", lambda text: text)
    logging.getLogger("app.users").warning("stored %s", HASH)
"""


class TestTheRun:
    def test_fails_when_a_secret_reaches_the_logs(self, pytester: pytest.Pytester) -> None:
        pytester.makepyfile(test_leak=LEAKING_TEST.format(broken=True))

        result = pytester.runpytest_subprocess("-p", "common.testing.plugin")

        result.assert_outcomes(passed=1)
        assert result.ret == pytest.ExitCode.TESTS_FAILED
        result.stdout.fnmatch_lines(
            [
                "*secrets in the logs: the run fails*",
                "argon2 hash logged by 'app.users' during test_leak.py::test_logs_a_hash: *",
            ]
        )
        assert "EpjFNDV1lXq0Ckb6Z7" not in result.stdout.str()

    def test_passes_when_redaction_masks_the_secret(self, pytester: pytest.Pytester) -> None:
        pytester.makepyfile(test_leak=LEAKING_TEST.format(broken=False))

        result = pytester.runpytest_subprocess("-p", "common.testing.plugin")

        result.assert_outcomes(passed=1)
        assert result.ret == pytest.ExitCode.OK
        assert "secrets in the logs" not in result.stdout.str()
