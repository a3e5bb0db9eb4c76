"""The link format. Stored chains depend on it: a change here must fail these tests."""

from __future__ import annotations

import hashlib
import uuid
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import pytest

from activity_service.services.link_hash import GENESIS_HASH, canonical, link_hash


def _row(**overrides: Any) -> dict[str, Any]:
    row: dict[str, Any] = {
        "seq": 1,
        "event_id": uuid.UUID("0b7e3e8a-5f1c-4c1e-9a51-3f6f2d1c0a01"),
        "occurred_at": datetime(2026, 1, 2, 3, 4, 5, 6, tzinfo=UTC),
        # the same instant, written in another zone
        "recorded_at": datetime(2026, 1, 2, 4, 4, 5, 6, tzinfo=timezone(timedelta(hours=1))),
        "service": "auth",
        "action": "auth.user.login",
        "outcome": "success",
        "actor_type": "user",
        "actor_id": "a1",
        "actor_ip": None,
        "actor_user_agent": "Zoë/1.0",
        "resource_type": "user",
        "resource_id": "a1",
        "request_id": None,
        "metadata": {"b": [1, 2.5, True, None], "a": "é"},
    }
    row.update(overrides)
    return row


CANONICAL = (
    '{"action":"auth.user.login","actor_id":"a1","actor_ip":null,"actor_type":"user",'
    '"actor_user_agent":"Zoë/1.0","event_id":"0b7e3e8a-5f1c-4c1e-9a51-3f6f2d1c0a01",'
    '"metadata":{"a":"é","b":[1,2.5,true,null]},"occurred_at":"2026-01-02T03:04:05.000006+00:00",'
    '"outcome":"success","recorded_at":"2026-01-02T03:04:05.000006+00:00","request_id":null,'
    '"resource_id":"a1","resource_type":"user","seq":1,"service":"auth"}'
)


class TestCanonical:
    def test_is_sorted_compact_utf8_json_with_utc_microsecond_timestamps(self) -> None:
        assert canonical(_row()) == CANONICAL.encode("utf-8")

    def test_ignores_the_hash_columns_and_anything_else_in_the_row(self) -> None:
        extra = _row(prev_hash="f" * 64, hash="e" * 64, something="else")
        assert canonical(extra) == canonical(_row())

    def test_refuses_a_naive_timestamp(self) -> None:
        with pytest.raises(ValueError, match="naive"):
            canonical(_row(occurred_at=datetime(2026, 1, 2, 3, 4, 5)))


class TestLinkHash:
    def test_is_sha256_of_the_previous_hash_then_the_canonical_row(self) -> None:
        expected = hashlib.sha256(GENESIS_HASH.encode() + CANONICAL.encode()).hexdigest()
        assert link_hash(GENESIS_HASH, _row()) == expected
        assert expected == "cf5247afb37580c2699a265f5bde864df2b471085819c60492d77791650dc348"

    def test_the_genesis_is_64_zeros(self) -> None:
        assert GENESIS_HASH == "0" * 64

    def test_depends_on_the_previous_hash_and_on_every_column(self) -> None:
        base = link_hash(GENESIS_HASH, _row())
        assert link_hash("1" * 64, _row()) != base
        for column, value in [
            ("seq", 2),
            ("actor_id", "a2"),
            ("metadata", {"a": "é", "b": [1, 2.5, True]}),
            ("recorded_at", datetime(2026, 1, 2, 3, 4, 5, 7, tzinfo=UTC)),
            ("request_id", "r"),
        ]:
            assert link_hash(GENESIS_HASH, _row(**{column: value})) != base, column
