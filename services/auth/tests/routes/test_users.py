"""User administration: search, read, change, deactivate, roles; and who may do it."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from common.testing import assert_error

API = "/api/v1"


class TestListUsers:
    async def test_pages_newest_first_with_a_cursor(
        self, client: httpx.AsyncClient, register: Any, admin: Any
    ) -> None:
        for index in range(5):
            await register(email=f"page{index}@example.com")
        first = await client.get(f"{API}/users", params={"limit": 2}, headers=admin.headers)
        assert first.status_code == 200
        body = first.json()
        assert [u["email"] for u in body["items"]] == ["page4@example.com", "page3@example.com"]
        assert body["next_cursor"]
        seen = [u["email"] for u in body["items"]]
        cursor = body["next_cursor"]
        while cursor:
            page = await client.get(
                f"{API}/users", params={"limit": 2, "cursor": cursor}, headers=admin.headers
            )
            seen += [u["email"] for u in page.json()["items"]]
            cursor = page.json()["next_cursor"]
        assert seen == [f"page{i}@example.com" for i in range(4, -1, -1)] + [admin.email]

    async def test_searches_email_and_name_case_insensitively(
        self, client: httpx.AsyncClient, register: Any, admin: Any
    ) -> None:
        await register(email="ada@example.com", full_name="Ada Lovelace")
        await register(email="alan@example.com", full_name="Alan Turing")
        by_name = await client.get(f"{API}/users", params={"q": "LOVE"}, headers=admin.headers)
        assert [u["email"] for u in by_name.json()["items"]] == ["ada@example.com"]
        by_email = await client.get(f"{API}/users", params={"q": "alan@"}, headers=admin.headers)
        assert [u["email"] for u in by_email.json()["items"]] == ["alan@example.com"]

    async def test_like_wildcards_in_the_query_are_literal(
        self, client: httpx.AsyncClient, register: Any, admin: Any
    ) -> None:
        await register(email="plain@example.com")
        response = await client.get(f"{API}/users", params={"q": "%"}, headers=admin.headers)
        assert response.json()["items"] == []
        underscore = await client.get(f"{API}/users", params={"q": "_"}, headers=admin.headers)
        assert underscore.json()["items"] == []

    async def test_filters_by_role_and_state(
        self, client: httpx.AsyncClient, register: Any, admin: Any
    ) -> None:
        account = await register()
        admins = await client.get(
            f"{API}/users", params={"role": "super_admin"}, headers=admin.headers
        )
        assert [u["email"] for u in admins.json()["items"]] == [admin.email]
        await client.patch(
            f"{API}/users/{account.id}", json={"is_active": False}, headers=admin.headers
        )
        inactive = await client.get(
            f"{API}/users", params={"is_active": "false"}, headers=admin.headers
        )
        assert [u["id"] for u in inactive.json()["items"]] == [account.id]

    @pytest.mark.parametrize(
        ("params", "code"),
        [
            ({"limit": 0}, "validation_error"),
            ({"limit": 101}, "validation_error"),
            ({"limit": "ten"}, "validation_error"),
            ({"cursor": "not-a-cursor"}, "invalid_cursor"),
            ({"cursor": "WyJ4Il0"}, "invalid_cursor"),
            ({"cursor": "' OR 1=1 --"}, "invalid_cursor"),
            ({"is_active": "maybe"}, "validation_error"),
            ({"q": "x" * 101}, "validation_error"),
            ({"q": "nul\x00"}, "invalid_value"),
        ],
    )
    async def test_bad_parameters_are_422(
        self, client: httpx.AsyncClient, admin: Any, params: dict[str, Any], code: str
    ) -> None:
        response = await client.get(f"{API}/users", params=params, headers=admin.headers)
        assert_error(response, 422, code)

    async def test_a_plain_user_may_not_list(
        self, client: httpx.AsyncClient, register: Any
    ) -> None:
        account = await register()
        response = await client.get(f"{API}/users", headers=account.headers)
        assert_error(response, 403, "permission_denied")


class TestReadUser:
    async def test_returns_the_user(
        self, client: httpx.AsyncClient, register: Any, admin: Any
    ) -> None:
        account = await register()
        response = await client.get(f"{API}/users/{account.id}", headers=admin.headers)
        assert response.status_code == 200
        assert response.json()["email"] == account.email

    async def test_unknown_id_is_404(self, client: httpx.AsyncClient, admin: Any) -> None:
        response = await client.get(
            f"{API}/users/00000000-0000-0000-0000-000000000000", headers=admin.headers
        )
        assert_error(response, 404, "user_not_found")

    async def test_malformed_id_is_422(self, client: httpx.AsyncClient, admin: Any) -> None:
        response = await client.get(f"{API}/users/1 OR 1=1", headers=admin.headers)
        error = assert_error(response, 422, "validation_error")
        assert error["details"][0]["loc"] == ["path", "user_id"]


class TestUpdateUser:
    async def test_deactivation_ends_every_session(
        self, client: httpx.AsyncClient, register: Any, admin: Any
    ) -> None:
        account = await register()
        response = await client.patch(
            f"{API}/users/{account.id}", json={"is_active": False}, headers=admin.headers
        )
        assert response.status_code == 200
        assert response.json()["is_active"] is False
        refreshed = await client.post(
            f"{API}/auth/refresh", json={"refresh_token": account.refresh_token}
        )
        assert refreshed.status_code == 401

    async def test_reactivation_lets_the_user_back_in(
        self, client: httpx.AsyncClient, register: Any, admin: Any
    ) -> None:
        account = await register()
        await client.patch(
            f"{API}/users/{account.id}", json={"is_active": False}, headers=admin.headers
        )
        await client.patch(
            f"{API}/users/{account.id}", json={"is_active": True}, headers=admin.headers
        )
        login = await client.post(
            f"{API}/auth/login", json={"email": account.email, "password": account.password}
        )
        assert login.status_code == 200

    async def test_the_last_super_admin_cannot_be_deactivated(
        self, client: httpx.AsyncClient, admin: Any
    ) -> None:
        response = await client.patch(
            f"{API}/users/{admin.id}", json={"is_active": False}, headers=admin.headers
        )
        assert_error(response, 409, "last_super_admin")

    async def test_an_admin_cannot_change_a_super_admin(
        self, client: httpx.AsyncClient, register: Any, admin: Any
    ) -> None:
        helper = await register()
        await client.put(
            f"{API}/users/{helper.id}/roles", json={"roles": ["admin"]}, headers=admin.headers
        )
        helper_token = await client.post(
            f"{API}/auth/login", json={"email": helper.email, "password": helper.password}
        )
        headers = {"Authorization": f"Bearer {helper_token.json()['access_token']}"}
        response = await client.patch(
            f"{API}/users/{admin.id}", json={"is_active": False}, headers=headers
        )
        assert_error(response, 403, "privilege_escalation")


class TestSetRoles:
    async def test_replaces_the_roles_and_the_next_token_carries_them(
        self, client: httpx.AsyncClient, register: Any, admin: Any
    ) -> None:
        account = await register()
        response = await client.put(
            f"{API}/users/{account.id}/roles",
            json={"roles": ["admin", "user"]},
            headers=admin.headers,
        )
        assert response.status_code == 200
        assert response.json()["roles"] == ["admin", "user"]
        refreshed = await client.post(
            f"{API}/auth/refresh", json={"refresh_token": account.refresh_token}
        )
        users = await client.get(
            f"{API}/users",
            headers={"Authorization": f"Bearer {refreshed.json()['access_token']}"},
        )
        assert users.status_code == 200

    async def test_unknown_roles_are_named(
        self, client: httpx.AsyncClient, register: Any, admin: Any
    ) -> None:
        account = await register()
        response = await client.put(
            f"{API}/users/{account.id}/roles",
            json={"roles": ["user", "wizard"]},
            headers=admin.headers,
        )
        error = assert_error(response, 422, "unknown_role")
        assert error["details"] == {"unknown_roles": ["wizard"]}

    async def test_an_admin_cannot_grant_super_admin(
        self, client: httpx.AsyncClient, register: Any, admin: Any
    ) -> None:
        helper = await register()
        target = await register()
        await client.put(
            f"{API}/users/{helper.id}/roles", json={"roles": ["admin"]}, headers=admin.headers
        )
        login = await client.post(
            f"{API}/auth/login", json={"email": helper.email, "password": helper.password}
        )
        headers = {"Authorization": f"Bearer {login.json()['access_token']}"}
        for victim in (target.id, helper.id):
            response = await client.put(
                f"{API}/users/{victim}/roles", json={"roles": ["super_admin"]}, headers=headers
            )
            assert_error(response, 403, "privilege_escalation")

    async def test_an_admin_cannot_grant_a_role_with_rights_it_lacks(
        self, client: httpx.AsyncClient, register: Any, admin: Any
    ) -> None:
        created = await client.post(
            f"{API}/roles",
            json={"name": "janitor", "permissions": ["files:delete:any"]},
            headers=admin.headers,
        )
        assert created.status_code == 201
        helper = await register()
        target = await register()
        await client.put(
            f"{API}/users/{helper.id}/roles", json={"roles": ["admin"]}, headers=admin.headers
        )
        login = await client.post(
            f"{API}/auth/login", json={"email": helper.email, "password": helper.password}
        )
        headers = {"Authorization": f"Bearer {login.json()['access_token']}"}
        response = await client.put(
            f"{API}/users/{target.id}/roles", json={"roles": ["janitor"]}, headers=headers
        )
        error = assert_error(response, 403, "privilege_escalation")
        assert error["details"] == {"missing_permissions": ["files:delete:any"]}

    async def test_the_last_super_admin_keeps_the_role(
        self, client: httpx.AsyncClient, admin: Any
    ) -> None:
        response = await client.put(
            f"{API}/users/{admin.id}/roles", json={"roles": ["admin"]}, headers=admin.headers
        )
        assert_error(response, 409, "last_super_admin")

    async def test_needs_users_write(self, client: httpx.AsyncClient, register: Any) -> None:
        account = await register()
        response = await client.put(
            f"{API}/users/{account.id}/roles", json={"roles": ["admin"]}, headers=account.headers
        )
        assert_error(response, 403, "permission_denied")
