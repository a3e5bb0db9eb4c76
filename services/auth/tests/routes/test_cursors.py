"""Cursors of the auth service's lists (`/users`, `/roles`, `/permissions`): a forged one, or one
from another list, is a 422 `invalid_cursor`, never a query and never a 500."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from common.testing import assert_error, cursor_of, reforged

from ..conftest import Account, Register

API = "/api/v1"
TIME = "2026-01-01T00:00:00+00:00"
ID = "0b7e3e8a-5f1c-4c1e-9a51-2d3c4b5a6978"
LISTS = ("/users", "/roles", "/permissions")


@pytest.fixture
async def cursors(client: httpx.AsyncClient, admin: Account, register: Register) -> dict[str, str]:
    """`next_cursor` of the first page (one item) of each list."""
    await register()
    found: dict[str, str] = {}
    for path in LISTS:
        response = await client.get(f"{API}{path}", params={"limit": 1}, headers=admin.headers)
        found[path] = response.json()["next_cursor"]
    return found


async def listed(
    client: httpx.AsyncClient, admin: Account, path: str, **params: Any
) -> httpx.Response:
    return await client.get(f"{API}{path}", params=params, headers=admin.headers)


class TestForgedCursors:
    @pytest.mark.parametrize("path", LISTS)
    @pytest.mark.parametrize(
        "cursor",
        [
            pytest.param(cursor_of(b"[true]"), id="[true]"),
            pytest.param(cursor_of(b'["admin"]'), id="a bare key"),
            pytest.param(cursor_of(b"{}"), id="an empty object"),
            pytest.param(cursor_of(b"\xff"), id="not utf-8"),
            pytest.param("' OR 1=1 --", id="sql"),
        ],
    )
    async def test_that_are_no_cursors_are_refused(
        self, client: httpx.AsyncClient, admin: Account, path: str, cursor: str
    ) -> None:
        assert_error(await listed(client, admin, path, cursor=cursor), 422, "invalid_cursor")

    @pytest.mark.parametrize(
        "after",
        [
            pytest.param([True, ID], id="boolean for a time"),
            pytest.param([12, ID], id="number for a time"),
            pytest.param(["yesterday", ID], id="not a time"),
            pytest.param(["2026-01-01T00:00:00", ID], id="time without zone"),
            pytest.param(["0001-01-01T00:00:00+01:00", ID], id="time without UTC value"),
            pytest.param([TIME, True], id="boolean for an id"),
            pytest.param([TIME, "not-a-uuid"], id="not a uuid"),
            pytest.param([TIME, None], id="null for an id"),
            pytest.param([TIME], id="too short"),
            pytest.param([TIME, ID, ID], id="too long"),
        ],
    )
    async def test_with_a_forged_user_key_are_refused(
        self, client: httpx.AsyncClient, admin: Account, cursors: dict[str, str], after: Any
    ) -> None:
        cursor = reforged(cursors["/users"], after=after)
        assert_error(await listed(client, admin, "/users", cursor=cursor), 422, "invalid_cursor")

    @pytest.mark.parametrize("path", ["/roles", "/permissions"])
    @pytest.mark.parametrize(
        "after",
        [
            pytest.param([True], id="a boolean"),
            pytest.param([1], id="a number"),
            pytest.param([None], id="null"),
            pytest.param(["a\x00b"], id="a NUL character"),
            pytest.param(["\ud800"], id="a lone surrogate"),
            pytest.param(["x" * 101], id="longer than a name"),
            pytest.param(["admin", "user"], id="too long"),
        ],
    )
    async def test_with_a_forged_name_are_refused(
        self,
        client: httpx.AsyncClient,
        admin: Account,
        cursors: dict[str, str],
        path: str,
        after: Any,
    ) -> None:
        cursor = reforged(cursors[path], after=after)
        assert_error(await listed(client, admin, path, cursor=cursor), 422, "invalid_cursor")

    async def test_a_real_cursor_still_pages(
        self, client: httpx.AsyncClient, admin: Account, cursors: dict[str, str]
    ) -> None:
        for path in LISTS:
            response = await listed(client, admin, path, cursor=cursors[path])
            assert response.status_code == 200, response.text


class TestCursorsOfOtherLists:
    @pytest.mark.parametrize(
        ("origin", "path"),
        [
            ("/users", "/roles"),
            ("/users", "/permissions"),
            ("/roles", "/permissions"),
            ("/permissions", "/roles"),
            ("/roles", "/users"),
        ],
    )
    async def test_are_refused(
        self,
        client: httpx.AsyncClient,
        admin: Account,
        cursors: dict[str, str],
        origin: str,
        path: str,
    ) -> None:
        response = await listed(client, admin, path, cursor=cursors[origin])
        assert_error(response, 422, "invalid_cursor")

    @pytest.mark.parametrize(
        "params",
        [
            pytest.param({"is_active": "true"}, id="active only"),
            pytest.param({"q": "example"}, id="a search"),
            pytest.param({"role": "user"}, id="a role"),
        ],
    )
    async def test_a_cursor_of_all_users_fits_no_filtered_search(
        self,
        client: httpx.AsyncClient,
        admin: Account,
        cursors: dict[str, str],
        params: dict[str, str],
    ) -> None:
        response = await listed(client, admin, "/users", cursor=cursors["/users"], **params)
        assert_error(response, 422, "invalid_cursor")

    async def test_a_cursor_of_a_search_fits_only_that_search(
        self, client: httpx.AsyncClient, admin: Account, register: Register
    ) -> None:
        for _ in range(3):
            await register()
        first = await listed(client, admin, "/users", q="user", limit=1)
        cursor = first.json()["next_cursor"]
        same = await listed(client, admin, "/users", q="user", cursor=cursor)
        assert len(same.json()["items"]) == 2
        other = await listed(client, admin, "/users", q="root", cursor=cursor)
        assert_error(other, 422, "invalid_cursor")
