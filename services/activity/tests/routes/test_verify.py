"""`GET /activity/verify`: the chain check over HTTP."""

from __future__ import annotations

import httpx
import pytest

from common.testing import assert_error

from ..conftest import API, Caller, MakeEvent, Sql, Store, behind_the_triggers


@pytest.fixture
async def chain(store: Store, make_event: MakeEvent) -> None:
    await store([make_event() for _ in range(12)])


@pytest.mark.usefixtures("chain")
class TestVerify:
    async def test_an_intact_chain(
        self, client: httpx.AsyncClient, auditor: Caller, sql: Sql
    ) -> None:
        (head,) = await sql("SELECT hash FROM activity.event WHERE seq = 12")
        response = await client.get(f"{API}/activity/verify", headers=auditor.headers)
        assert response.status_code == 200
        assert response.json() == {
            "ok": True,
            "checked": 12,
            "head_seq": 12,
            "head_hash": head["hash"],
        }

    async def test_a_row_changed_behind_the_triggers_back_is_found_with_its_seq(
        self, client: httpx.AsyncClient, auditor: Caller, sql: Sql
    ) -> None:
        await behind_the_triggers(
            sql, "UPDATE activity.event SET outcome = 'failure' WHERE seq = 5"
        )
        response = await client.get(f"{API}/activity/verify", headers=auditor.headers)
        assert response.status_code == 200
        assert response.json() == {
            "ok": False,
            "first_broken_seq": 5,
            "reason": "hash does not match the row's contents",
        }

    async def test_a_range(self, client: httpx.AsyncClient, auditor: Caller) -> None:
        response = await client.get(
            f"{API}/activity/verify", params={"from_seq": 3, "to_seq": 7}, headers=auditor.headers
        )
        assert (response.json()["checked"], response.json()["head_seq"]) == (5, 7)

    @pytest.mark.parametrize(
        ("params", "code"),
        [
            ({"from_seq": "8", "to_seq": "7"}, "invalid_seq_range"),
            ({"from_seq": "0"}, "validation_error"),
            ({"to_seq": "-1"}, "validation_error"),
            ({"from_seq": "1 OR 1=1"}, "validation_error"),
            ({"from_seq": "99999999999999999999"}, "validation_error"),
        ],
    )
    async def test_malformed_ranges(
        self, client: httpx.AsyncClient, auditor: Caller, params: dict[str, str], code: str
    ) -> None:
        response = await client.get(
            f"{API}/activity/verify", params=params, headers=auditor.headers
        )
        assert_error(response, 422, code)

    async def test_needs_activity_read(self, client: httpx.AsyncClient, alice: Caller) -> None:
        response = await client.get(f"{API}/activity/verify", headers=alice.headers)
        assert_error(response, 403, "permission_denied")
