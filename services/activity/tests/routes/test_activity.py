"""`GET /activity`, `/activity/me` and `/activity/{id}`: who sees what, filters, pages, and a
clear 422 for every malformed filter."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from activity_service.settings import ActivitySettings
from common.testing import assert_documented, assert_error, cursor_of, free_port, reforged

from ..conftest import API, Caller, MakeCaller, MakeEvent, Sql, Store

T0 = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)


def seqs(response: httpx.Response) -> list[int]:
    assert response.status_code == 200, response.text
    return [item["seq"] for item in response.json()["items"]]


class TestListEvents:
    async def test_answers_the_event_with_its_place_in_the_chain(
        self,
        client: httpx.AsyncClient,
        auditor: Caller,
        store: Store,
        make_event: MakeEvent,
        sql: Sql,
    ) -> None:
        event = make_event(
            actor_id="u-1",
            action="auth.user.password_changed",
            resource=("user", "u-1"),
            occurred_at=T0,
            metadata={"sessions_ended": 2},
        )
        await store([event])
        (row,) = await sql("SELECT recorded_at, hash FROM activity.event")
        response = await client.get(f"{API}/activity", headers=auditor.headers)
        assert response.status_code == 200
        assert response.json() == {
            "items": [
                {
                    "id": str(event.id),
                    "occurred_at": "2026-03-01T12:00:00Z",
                    "service": "auth",
                    "action": "auth.user.password_changed",
                    "outcome": "success",
                    "actor": {
                        "type": "user",
                        "id": "u-1",
                        "ip": "203.0.113.7",
                        "user_agent": "tests/1.0",
                    },
                    "resource": {"type": "user", "id": "u-1"},
                    "request_id": event.request_id,
                    "metadata": {"sessions_ended": 2},
                    "seq": 1,
                    "recorded_at": row["recorded_at"].isoformat().replace("+00:00", "Z"),
                    "prev_hash": "0" * 64,
                    "hash": row["hash"],
                }
            ],
            "next_cursor": None,
        }

    async def test_pages_newest_first_with_a_cursor(
        self, client: httpx.AsyncClient, auditor: Caller, store: Store, make_event: MakeEvent
    ) -> None:
        await store([make_event() for _ in range(5)])
        pages: list[list[int]] = []
        cursor: str | None = None
        while True:
            params: dict[str, Any] = {"limit": 2} | ({"cursor": cursor} if cursor else {})
            response = await client.get(f"{API}/activity", params=params, headers=auditor.headers)
            pages.append(seqs(response))
            cursor = response.json()["next_cursor"]
            if cursor is None:
                break
        assert pages == [[5, 4], [3, 2], [1]]

    async def test_filters_by_actor_action_resource_and_time(
        self, client: httpx.AsyncClient, auditor: Caller, store: Store, make_event: MakeEvent
    ) -> None:
        await store(
            [
                make_event(actor_id="a", action="auth.user.login", occurred_at=T0),  # 1
                make_event(actor_id="b", action="auth.user.login", occurred_at=T0),  # 2
                make_event(
                    actor_id="a",
                    action="storage.file.deleted",
                    resource=("file", "f-1"),
                    occurred_at=T0 + timedelta(hours=1),
                ),  # 3
                make_event(
                    actor_id="service:billing",
                    action="storage.file.deleted",
                    resource=("file", "f-2"),
                    occurred_at=T0 + timedelta(hours=2),
                ),  # 4
                make_event(actor_id="a", resource=None, occurred_at=T0 + timedelta(hours=3)),  # 5
            ]
        )

        async def find(**params: str) -> list[int]:
            return seqs(await client.get(f"{API}/activity", params=params, headers=auditor.headers))

        assert await find(actor_id="a") == [5, 3, 1]
        assert await find(actor_id="service:billing") == [4]
        assert await find(action="storage.file.deleted") == [4, 3]
        assert await find(resource_type="file") == [4, 3]
        assert await find(resource_type="file", resource_id="f-2") == [4]
        assert await find(since=(T0 + timedelta(hours=1)).isoformat()) == [5, 4, 3]
        assert await find(until=(T0 + timedelta(hours=1)).isoformat()) == [2, 1]
        assert await find(
            since=T0.isoformat(), until="2026-03-01T14:00:00+01:00", actor_id="a"
        ) == [1]
        assert await find(actor_id="nobody") == []

    async def test_needs_a_token(self, client: httpx.AsyncClient) -> None:
        assert_error(await client.get(f"{API}/activity"), 401, "not_authenticated")

    async def test_needs_activity_read(self, client: httpx.AsyncClient, alice: Caller) -> None:
        response = await client.get(f"{API}/activity", headers=alice.headers)
        assert_error(response, 403, "permission_denied")

    async def test_refuses_a_forged_token(self, client: httpx.AsyncClient, auditor: Caller) -> None:
        header, payload, signature = auditor.token.split(".")
        forged = f"{header}.{payload}.{signature[::-1]}"
        response = await client.get(
            f"{API}/activity", headers={"Authorization": f"Bearer {forged}"}
        )
        assert_error(response, 401, "invalid_token")


MALFORMED: list[tuple[dict[str, str], str]] = [
    ({"actor_id": "' OR 1=1 --"}, "validation_error"),
    ({"actor_id": "a'; DROP TABLE activity.event; --"}, "validation_error"),
    ({"actor_id": "x" * 201}, "validation_error"),
    ({"resource_id": "f-1' OR '1'='1"}, "validation_error"),
    ({"action": "auth.user.login' OR 1=1"}, "validation_error"),
    ({"action": "login"}, "validation_error"),
    ({"resource_type": "File"}, "validation_error"),
    ({"since": "yesterday"}, "validation_error"),
    ({"since": "2026-03-01T12:00:00"}, "validation_error"),  # no time zone
    ({"until": "2026-02-30T00:00:00Z"}, "validation_error"),
    ({"since": "0001-01-01T00:00:00+01:00"}, "validation_error"),  # year 0 in UTC
    ({"until": "9999-12-31T23:30:00-01:00"}, "validation_error"),  # year 10000 in UTC
    ({"since": "-1"}, "validation_error"),  # a Unix time, not ISO 8601
    ({"until": "99999999999999"}, "validation_error"),
    ({"since": "1.7e9"}, "validation_error"),
    ({"since": "2026-03-02T00:00:00Z", "until": "2026-03-01T00:00:00Z"}, "invalid_time_range"),
    ({"since": "2026-03-01T00:00:00Z", "until": "2026-03-01T00:00:00Z"}, "invalid_time_range"),
    ({"cursor": "not-a-cursor"}, "invalid_cursor"),
    ({"cursor": "WyJ4Il0"}, "invalid_cursor"),  # ["x"]: decodes, but not a seq
    ({"cursor": "' OR 1=1 --"}, "invalid_cursor"),
    ({"cursor": cursor_of(b"[true]")}, "invalid_cursor"),
    ({"cursor": cursor_of(b"[1]")}, "invalid_cursor"),  # a list's old shape: a bare key
    ({"cursor": cursor_of(b'{"list": "x", "after": [1]}')}, "invalid_cursor"),
    ({"limit": "0"}, "validation_error"),
    ({"limit": "101"}, "validation_error"),
    ({"limit": "1; DROP TABLE x"}, "validation_error"),
]


class TestMalformedFilters:
    @pytest.mark.parametrize(("params", "code"), MALFORMED)
    async def test_everyone_s_events(
        self, client: httpx.AsyncClient, auditor: Caller, params: dict[str, str], code: str
    ) -> None:
        response = await client.get(f"{API}/activity", params=params, headers=auditor.headers)
        assert_error(response, 422, code)

    @pytest.mark.parametrize(("params", "code"), [m for m in MALFORMED if "actor_id" not in m[0]])
    async def test_own_events(
        self, client: httpx.AsyncClient, alice: Caller, params: dict[str, str], code: str
    ) -> None:
        response = await client.get(f"{API}/activity/me", params=params, headers=alice.headers)
        assert_error(response, 422, code)

    async def test_validation_errors_name_the_parameter(
        self, client: httpx.AsyncClient, auditor: Caller
    ) -> None:
        response = await client.get(
            f"{API}/activity", params={"actor_id": "' OR 1=1 --"}, headers=auditor.headers
        )
        error = assert_error(response, 422, "validation_error")
        assert [d["loc"] for d in error["details"]] == [["query", "actor_id"]]


class TestCursors:
    """A cursor is the position in one list; a forged one, or one from another list, is a 422
    `invalid_cursor` before any query runs."""

    @pytest.fixture
    async def cursor(
        self, client: httpx.AsyncClient, auditor: Caller, store: Store, make_event: MakeEvent
    ) -> str:
        """`next_cursor` of the first page of everyone's events, one by one."""
        await store([make_event(actor_id="a") for _ in range(3)])
        response = await client.get(f"{API}/activity", params={"limit": 1}, headers=auditor.headers)
        cursor: str = response.json()["next_cursor"]
        return cursor

    @pytest.mark.parametrize(
        "after",
        [
            pytest.param([True], id="true"),
            pytest.param([False], id="false"),
            pytest.param([None], id="null"),
            pytest.param([1.5], id="a fraction"),
            pytest.param([2.0], id="a float"),
            pytest.param(["2"], id="text"),
            pytest.param([[2]], id="a list"),
            pytest.param([{"seq": 2}], id="an object"),
            pytest.param([], id="too short"),
            pytest.param([2, 1], id="too long"),
            pytest.param({"seq": 2}, id="not a list"),
            pytest.param([2**63], id="beyond bigint"),
            pytest.param([-(2**63) - 1], id="below bigint"),
            pytest.param([10**40], id="huge"),
        ],
    )
    async def test_a_forged_key_is_refused(
        self, client: httpx.AsyncClient, auditor: Caller, cursor: str, after: Any
    ) -> None:
        response = await client.get(
            f"{API}/activity",
            params={"cursor": reforged(cursor, after=after)},
            headers=auditor.headers,
        )
        assert_error(response, 422, "invalid_cursor")

    async def test_any_integer_a_seq_can_be_is_a_position(
        self, client: httpx.AsyncClient, auditor: Caller, cursor: str
    ) -> None:
        for after, expected in (([2**63 - 1], [3, 2, 1]), ([-(2**63)], []), ([3], [2, 1])):
            response = await client.get(
                f"{API}/activity",
                params={"cursor": reforged(cursor, after=after)},
                headers=auditor.headers,
            )
            assert seqs(response) == expected

    @pytest.mark.parametrize(
        "params",
        [
            pytest.param({"actor_id": "a"}, id="with a filter"),
            pytest.param({"actor_id": "b"}, id="with another filter"),
            pytest.param({"action": "auth.user.login"}, id="with a filter that matches all"),
            pytest.param({"since": "2026-01-01T00:00:00Z"}, id="with a time range"),
        ],
    )
    async def test_a_cursor_of_everyone_s_events_fits_no_filtered_list(
        self, client: httpx.AsyncClient, auditor: Caller, cursor: str, params: dict[str, str]
    ) -> None:
        response = await client.get(
            f"{API}/activity", params=params | {"cursor": cursor}, headers=auditor.headers
        )
        assert_error(response, 422, "invalid_cursor")

    async def test_a_cursor_of_a_filtered_list_fits_only_that_list(
        self, client: httpx.AsyncClient, auditor: Caller, cursor: str
    ) -> None:
        first = await client.get(
            f"{API}/activity", params={"actor_id": "a", "limit": 1}, headers=auditor.headers
        )
        filtered = first.json()["next_cursor"]
        same = await client.get(
            f"{API}/activity", params={"actor_id": "a", "cursor": filtered}, headers=auditor.headers
        )
        assert seqs(same) == [2, 1]
        for params in ({}, {"actor_id": "b"}):
            other = await client.get(
                f"{API}/activity", params=params | {"cursor": filtered}, headers=auditor.headers
            )
            assert_error(other, 422, "invalid_cursor")

    async def test_a_cursor_of_everyone_s_events_fits_no_one_s_own_events(
        self, client: httpx.AsyncClient, alice: Caller, cursor: str
    ) -> None:
        response = await client.get(
            f"{API}/activity/me", params={"cursor": cursor}, headers=alice.headers
        )
        assert_error(response, 422, "invalid_cursor")

    async def test_a_cursor_of_one_s_own_events_fits_no_one_else_s(
        self,
        client: httpx.AsyncClient,
        alice: Caller,
        bob: Caller,
        store: Store,
        make_event: MakeEvent,
    ) -> None:
        await store([make_event(actor_id=alice.subject) for _ in range(2)])
        first = await client.get(f"{API}/activity/me", params={"limit": 1}, headers=alice.headers)
        cursor = first.json()["next_cursor"]
        mine = await client.get(
            f"{API}/activity/me", params={"cursor": cursor}, headers=alice.headers
        )
        assert seqs(mine) == [1]
        theirs = await client.get(
            f"{API}/activity/me", params={"cursor": cursor}, headers=bob.headers
        )
        assert_error(theirs, 422, "invalid_cursor")


class TestOwnEvents:
    async def test_lists_only_the_callers_events(
        self,
        client: httpx.AsyncClient,
        alice: Caller,
        bob: Caller,
        store: Store,
        make_event: MakeEvent,
    ) -> None:
        await store(
            [
                make_event(actor_id=alice.subject),
                make_event(actor_id=bob.subject),
                make_event(actor_id=alice.subject, action="auth.user.logout"),
            ]
        )
        mine = await client.get(f"{API}/activity/me", headers=alice.headers)
        assert seqs(mine) == [3, 1]
        assert {item["actor"]["id"] for item in mine.json()["items"]} == {alice.subject}
        assert seqs(await client.get(f"{API}/activity/me", headers=bob.headers)) == [2]

    async def test_takes_the_filters(
        self, client: httpx.AsyncClient, alice: Caller, store: Store, make_event: MakeEvent
    ) -> None:
        await store(
            [
                make_event(actor_id=alice.subject),
                make_event(actor_id=alice.subject, action="auth.user.logout"),
            ]
        )
        response = await client.get(
            f"{API}/activity/me", params={"action": "auth.user.logout"}, headers=alice.headers
        )
        assert seqs(response) == [2]

    async def test_an_actor_id_in_the_query_does_not_widen_it(
        self,
        client: httpx.AsyncClient,
        alice: Caller,
        bob: Caller,
        store: Store,
        make_event: MakeEvent,
    ) -> None:
        await store([make_event(actor_id=bob.subject)])
        response = await client.get(
            f"{API}/activity/me", params={"actor_id": bob.subject}, headers=alice.headers
        )
        assert seqs(response) == []

    async def test_a_service_sees_the_events_it_caused(
        self,
        client: httpx.AsyncClient,
        make_caller: MakeCaller,
        store: Store,
        make_event: MakeEvent,
    ) -> None:
        service = make_caller(subject="service:billing")
        await store([make_event(actor_id="service:billing"), make_event(actor_id="u-1")])
        assert seqs(await client.get(f"{API}/activity/me", headers=service.headers)) == [1]

    async def test_needs_a_token(self, client: httpx.AsyncClient) -> None:
        assert_error(await client.get(f"{API}/activity/me"), 401, "not_authenticated")


class TestReadEvent:
    async def test_the_actor_reads_their_own_event(
        self, client: httpx.AsyncClient, alice: Caller, store: Store, make_event: MakeEvent
    ) -> None:
        event = make_event(actor_id=alice.subject)
        await store([event])
        response = await client.get(f"{API}/activity/{event.id}", headers=alice.headers)
        assert response.status_code == 200
        body = response.json()
        assert (body["id"], body["seq"], body["actor"]["id"]) == (str(event.id), 1, alice.subject)

    async def test_someone_else_s_event_does_not_exist_for_them(
        self,
        client: httpx.AsyncClient,
        alice: Caller,
        bob: Caller,
        store: Store,
        make_event: MakeEvent,
    ) -> None:
        event = make_event(actor_id=alice.subject)
        await store([event])
        response = await client.get(f"{API}/activity/{event.id}", headers=bob.headers)
        assert_error(response, 404, "event_not_found")

    async def test_activity_read_reads_anyone_s_event(
        self,
        client: httpx.AsyncClient,
        auditor: Caller,
        alice: Caller,
        store: Store,
        make_event: MakeEvent,
    ) -> None:
        event = make_event(actor_id=alice.subject)
        await store([event])
        response = await client.get(f"{API}/activity/{event.id}", headers=auditor.headers)
        assert response.json()["id"] == str(event.id)

    async def test_an_unknown_event(self, client: httpx.AsyncClient, auditor: Caller) -> None:
        response = await client.get(f"{API}/activity/{uuid.uuid4()}", headers=auditor.headers)
        assert_error(response, 404, "event_not_found")

    @pytest.mark.parametrize("event_id", ["42", "' OR 1=1 --", "0b7e3e8a-5f1c-4c1e-9a51"])
    async def test_a_malformed_id(
        self, client: httpx.AsyncClient, auditor: Caller, event_id: str
    ) -> None:
        response = await client.get(f"{API}/activity/{event_id}", headers=auditor.headers)
        assert_error(response, 422, "validation_error")

    async def test_needs_a_token(self, client: httpx.AsyncClient) -> None:
        assert_error(await client.get(f"{API}/activity/{uuid.uuid4()}"), 401, "not_authenticated")


class TestDatabaseUnavailable:
    """Every operation of the trail reads the database: unreachable, it answers 503 with the
    error body, and the operation's OpenAPI lists that answer (only the export did)."""

    @pytest.fixture
    def settings(self, settings: ActivitySettings) -> ActivitySettings:
        nowhere = f"postgresql+asyncpg://postgres@127.0.0.1:{free_port()}/x"
        return settings.model_copy(update={"database_url": nowhere})

    @pytest.mark.parametrize(
        ("path", "template"),
        [
            ("/activity", "/activity"),
            ("/activity/me", "/activity/me"),
            ("/activity/verify", "/activity/verify"),
            (f"/activity/{uuid.UUID(int=1)}", "/activity/{event_id}"),
        ],
    )
    async def test_is_503_as_documented(
        self, app: FastAPI, client: httpx.AsyncClient, auditor: Caller, path: str, template: str
    ) -> None:
        response = await client.get(f"{API}{path}", headers=auditor.headers)

        assert_error(response, 503, "dependency_unavailable")
        assert_documented(app.openapi(), "GET", f"{API}{template}", response)
