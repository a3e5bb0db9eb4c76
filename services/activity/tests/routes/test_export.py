"""`GET /activity/export`: the filtered events, oldest first, streamed as NDJSON or CSV."""

from __future__ import annotations

import csv
import io
import json
import re
from typing import Any

import httpx
import pytest

from activity_service.settings import ActivitySettings
from common.audit import Actor
from common.testing import assert_error, free_port

from ..conftest import API, Caller, MakeEvent, Store

FILENAME = re.compile(r'^attachment; filename="activity-\d{8}T\d{6}Z\.(ndjson|csv)"$')


async def export(client: httpx.AsyncClient, caller: Caller, **params: str) -> httpx.Response:
    """The export, read as a stream the way a browser downloads it."""
    async with client.stream(
        "GET", f"{API}/activity/export", params=params, headers=caller.headers
    ) as response:
        await response.aread()
    return response


@pytest.fixture
async def events(store: Store, make_event: MakeEvent) -> list[Any]:
    """25 events (more than two of the export's batches of 10); every fifth by `a`."""
    made = [make_event(actor_id="a" if i % 5 == 0 else f"u-{i}") for i in range(25)]
    await store(made)
    return made


class TestNdjson:
    async def test_streams_every_event_oldest_first_as_the_api_shows_it(
        self, client: httpx.AsyncClient, auditor: Caller, events: list[Any]
    ) -> None:
        response = await export(client, auditor, format="ndjson")
        assert response.status_code == 200
        assert response.headers["content-type"] == "application/x-ndjson"
        assert FILENAME.match(response.headers["content-disposition"])
        assert response.headers["content-disposition"].endswith('.ndjson"')
        lines = response.text.splitlines()
        assert len(lines) == 25
        exported = [json.loads(line) for line in lines]
        assert [e["seq"] for e in exported] == list(range(1, 26))
        assert [e["id"] for e in exported] == [str(e.id) for e in events]
        listed = await client.get(f"{API}/activity", params={"limit": 1}, headers=auditor.headers)
        assert exported[-1] == listed.json()["items"][0]

    async def test_is_the_default_format(
        self, client: httpx.AsyncClient, auditor: Caller, events: list[Any]
    ) -> None:
        response = await export(client, auditor)
        assert response.headers["content-type"] == "application/x-ndjson"

    async def test_takes_the_filters(
        self, client: httpx.AsyncClient, auditor: Caller, events: list[Any]
    ) -> None:
        response = await export(client, auditor, actor_id="a")
        assert [json.loads(line)["seq"] for line in response.text.splitlines()] == [
            1,
            6,
            11,
            16,
            21,
        ]

    async def test_nothing_matches(self, client: httpx.AsyncClient, auditor: Caller) -> None:
        response = await export(client, auditor, actor_id="nobody")
        assert (response.status_code, response.text) == (200, "")


class TestCsv:
    async def test_one_row_per_event_under_a_header_of_the_columns(
        self, client: httpx.AsyncClient, auditor: Caller, events: list[Any]
    ) -> None:
        response = await export(client, auditor, format="csv")
        assert response.status_code == 200
        assert response.headers["content-type"] == "text/csv; charset=utf-8"
        assert response.headers["content-disposition"].endswith('.csv"')
        rows = list(csv.DictReader(io.StringIO(response.text)))
        assert list(rows[0]) == [
            "seq",
            "event_id",
            "occurred_at",
            "recorded_at",
            "service",
            "action",
            "outcome",
            "actor_type",
            "actor_id",
            "actor_ip",
            "actor_user_agent",
            "resource_type",
            "resource_id",
            "request_id",
            "metadata",
            "prev_hash",
            "hash",
        ]
        assert [int(r["seq"]) for r in rows] == list(range(1, 26))
        first = rows[0]
        assert first["event_id"] == str(events[0].id)
        assert first["occurred_at"] == events[0].occurred_at.isoformat()
        assert (first["actor_id"], first["resource_type"], first["resource_id"]) == (
            "a",
            "user",
            "u-1",
        )
        assert json.loads(first["metadata"]) == events[0].metadata
        assert first["prev_hash"] == "0" * 64
        assert rows[1]["prev_hash"] == first["hash"]

    async def test_cells_a_spreadsheet_would_run_are_defused(
        self, client: httpx.AsyncClient, auditor: Caller, store: Store, make_event: MakeEvent
    ) -> None:
        await store(
            [make_event(actor=Actor(type="user", id="x", user_agent='=HYPERLINK("http://e")'))]
        )
        response = await export(client, auditor, format="csv")
        (row,) = csv.DictReader(io.StringIO(response.text))
        assert row["actor_user_agent"] == '\'=HYPERLINK("http://e")'


class TestRefusals:
    """Every bad input is refused before the first byte of the export goes out: with a status,
    the shared error body and the security headers, never a 500 or a cut-off download."""

    @pytest.mark.parametrize(
        ("params", "code"),
        [
            ({"format": "xml"}, "validation_error"),
            ({"format": "ndjson' OR 1=1 --"}, "validation_error"),
            ({"actor_id": "' OR 1=1 --"}, "validation_error"),
            ({"actor_id": "a\x00b"}, "validation_error"),
            ({"action": "auth.user.login\x00"}, "validation_error"),
            ({"since": "yesterday"}, "validation_error"),
            ({"since": "2026-03-01T12:00:00"}, "validation_error"),  # no time zone
            ({"since": "0001-01-01T00:00:00+01:00"}, "validation_error"),  # year 0 in UTC
            ({"until": "9999-12-31T23:30:00-01:00"}, "validation_error"),  # year 10000 in UTC
            ({"until": "10000-01-01T00:00:00Z"}, "validation_error"),
            (
                {"since": "2026-03-02T00:00:00Z", "until": "2026-03-01T00:00:00Z"},
                "invalid_time_range",
            ),
        ],
    )
    async def test_malformed_requests(
        self,
        client: httpx.AsyncClient,
        auditor: Caller,
        events: list[Any],
        params: dict[str, str],
        code: str,
    ) -> None:
        response = await export(client, auditor, **params)
        assert_error(response, 422, code)
        assert response.headers["x-content-type-options"] == "nosniff"

    async def test_a_time_with_no_utc_value_names_its_parameter(
        self, client: httpx.AsyncClient, auditor: Caller
    ) -> None:
        response = await export(client, auditor, since="0001-01-01T00:00:00+01:00")
        error = assert_error(response, 422, "validation_error")
        assert [d["loc"] for d in error["details"]] == [["query", "since"]]
        assert "out of range once converted to UTC" in error["details"][0]["msg"]

    async def test_the_earliest_and_latest_times_are_accepted(
        self, client: httpx.AsyncClient, auditor: Caller, events: list[Any]
    ) -> None:
        response = await export(
            client,
            auditor,
            since="0001-01-01T01:00:00+01:00",
            until="9999-12-31T23:59:59.999999+00:00",
        )
        assert response.status_code == 200
        assert len(response.text.splitlines()) == 25

    async def test_needs_activity_read(self, client: httpx.AsyncClient, alice: Caller) -> None:
        response = await client.get(f"{API}/activity/export", headers=alice.headers)
        assert_error(response, 403, "permission_denied")


class TestDatabaseUnavailable:
    """The export's query runs before the answer starts: an unreachable database is a 503 with
    the error body, not a 200 whose body breaks off."""

    @pytest.fixture
    def settings(self, settings: ActivitySettings) -> ActivitySettings:
        nowhere = f"postgresql+asyncpg://postgres@127.0.0.1:{free_port()}/x"
        return settings.model_copy(update={"database_url": nowhere})

    @pytest.mark.parametrize("export_format", ["ndjson", "csv"])
    async def test_is_a_503_before_the_download_starts(
        self, client: httpx.AsyncClient, auditor: Caller, export_format: str
    ) -> None:
        response = await export(client, auditor, format=export_format)
        assert_error(response, 503, "dependency_unavailable")
        assert "content-disposition" not in response.headers
        assert response.headers["x-content-type-options"] == "nosniff"
