"""Backoff and Every: the waiting of every long-running loop."""

from __future__ import annotations

import logging

import pytest
from prometheus_client import CollectorRegistry, Counter

from common.retry import Backoff, Every


@pytest.fixture
def errors() -> Counter:
    return Counter("loop_errors", "Failed passes.", registry=CollectorRegistry())


class TestBackoff:
    def test_delays_double_from_a_tenth_of_a_second_up_to_the_ceiling(self) -> None:
        backoff = Backoff("loop", logging.getLogger("test"), ceiling=1.0)
        delays = [backoff.failed(OSError("down")) for _ in range(7)]
        assert delays == [0.1, 0.2, 0.4, 0.8, 1.0, 1.0, 1.0]

    def test_a_success_starts_the_next_outage_from_the_shortest_delay(self) -> None:
        backoff = Backoff("loop", logging.getLogger("test"), ceiling=30.0)
        for _ in range(5):
            backoff.failed(OSError("down"))
        backoff.recovered()
        assert backoff.failed(OSError("down again")) == 0.1

    def test_a_long_outage_never_overflows_the_delay(self) -> None:
        backoff = Backoff("loop", logging.getLogger("test"), ceiling=30.0)
        delays = [backoff.failed(OSError("down")) for _ in range(2000)]
        assert delays[-1] == 30.0

    def test_counts_every_failure(self, errors: Counter) -> None:
        backoff = Backoff("loop", logging.getLogger("test"), ceiling=1.0, errors=errors)
        for _ in range(3):
            backoff.failed(OSError("down"))
        assert errors._value.get() == 3

    def test_logs_the_first_failure_every_tenth_and_the_recovery(
        self, caplog: pytest.LogCaptureFixture
    ) -> None:
        backoff = Backoff("relay of audit_outbox", logging.getLogger("test.retry"), ceiling=1.0)
        with caplog.at_level(logging.INFO, logger="test.retry"):
            first = ConnectionError("refused")
            for _ in range(20):
                backoff.failed(first)
            backoff.recovered()
        lines = [(r.levelname, r.getMessage()) for r in caplog.records]
        assert [level for level, _ in lines] == ["WARNING", "WARNING", "WARNING", "INFO"]
        assert lines[0][1] == (
            "relay of audit_outbox failed 1 time(s), retrying in 0.1s: ConnectionError('refused')"
        )
        assert lines[1][1].startswith("relay of audit_outbox failed 10 time(s)")
        assert lines[3][1] == "relay of audit_outbox recovered after 20 failure(s)"
        assert caplog.records[0].exc_info is not None  # the first one carries the traceback
        assert caplog.records[0].exc_info[1] is first
        assert caplog.records[1].exc_info is None


class TestEvery:
    def test_due_the_first_time_then_not_until_the_interval_passed(self) -> None:
        every = Every(3600)
        assert [every.due(), every.due(), every.due()] == [True, False, False]

    def test_a_zero_interval_is_always_due(self) -> None:
        every = Every(0)
        assert [every.due(), every.due()] == [True, True]
