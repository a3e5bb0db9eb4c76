"""Role administration and the permission catalog."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from common.permissions import CATALOG, SYSTEM_ROLES
from common.testing import assert_error

from .test_users import make_plain_admin

API = "/api/v1"


async def role_id(client: httpx.AsyncClient, headers: dict[str, str], name: str) -> str:
    roles = await client.get(f"{API}/roles", params={"limit": 100}, headers=headers)
    return str(next(r["id"] for r in roles.json()["items"] if r["name"] == name))


class TestPermissions:
    async def test_lists_the_catalog_by_name(self, client: httpx.AsyncClient, admin: Any) -> None:
        response = await client.get(
            f"{API}/permissions", params={"limit": 100}, headers=admin.headers
        )
        assert response.status_code == 200
        names = [p["name"] for p in response.json()["items"]]
        assert names == sorted(names)
        assert {"users:read", "users:write", "roles:write", "activity:read"} <= set(names)
        assert all(p["description"] for p in response.json()["items"])

    async def test_pages(self, client: httpx.AsyncClient, admin: Any) -> None:
        first = await client.get(f"{API}/permissions", params={"limit": 3}, headers=admin.headers)
        second = await client.get(
            f"{API}/permissions",
            params={"limit": 3, "cursor": first.json()["next_cursor"]},
            headers=admin.headers,
        )
        first_names = [p["name"] for p in first.json()["items"]]
        second_names = [p["name"] for p in second.json()["items"]]
        assert len(first_names) == len(second_names) == 3
        assert first_names[-1] < second_names[0]


class TestSeededRoles:
    async def test_three_system_roles_exist(self, client: httpx.AsyncClient, admin: Any) -> None:
        response = await client.get(f"{API}/roles", headers=admin.headers)
        roles = {r["name"]: r for r in response.json()["items"]}
        assert set(roles) == {"admin", "super_admin", "user"}
        assert all(r["is_system"] for r in roles.values())
        assert set(roles["user"]["permissions"]) == {
            "files:read",
            "files:write",
            "release_notes:read",
        }
        assert set(roles["admin"]["permissions"]) < set(roles["super_admin"]["permissions"])

    async def test_seeds_the_shared_catalog_and_grants_only_from_it(
        self, client: httpx.AsyncClient, admin: Any
    ) -> None:
        permissions = await client.get(
            f"{API}/permissions", params={"limit": 100}, headers=admin.headers
        )
        roles = await client.get(f"{API}/roles", headers=admin.headers)

        catalog = {p["name"]: p["description"] for p in permissions.json()["items"]}
        assert catalog == dict(CATALOG)
        for role in roles.json()["items"]:
            assert set(role["permissions"]) == SYSTEM_ROLES[role["name"]][1]


class TestCreateRole:
    async def test_creates_a_role_with_permissions(
        self, client: httpx.AsyncClient, admin: Any
    ) -> None:
        response = await client.post(
            f"{API}/roles",
            json={
                "name": "editor",
                "description": "Writes notes",
                "permissions": ["release_notes:write"],
            },
            headers=admin.headers,
        )
        assert response.status_code == 201
        body = response.json()
        assert body["name"] == "editor"
        assert body["permissions"] == ["release_notes:write"]
        assert body["is_system"] is False
        fetched = await client.get(f"{API}/roles/{body['id']}", headers=admin.headers)
        assert fetched.json() == body

    async def test_duplicate_name_is_a_conflict(
        self, client: httpx.AsyncClient, admin: Any
    ) -> None:
        response = await client.post(f"{API}/roles", json={"name": "admin"}, headers=admin.headers)
        assert_error(response, 409, "role_name_taken")

    async def test_unknown_permissions_are_named(
        self, client: httpx.AsyncClient, admin: Any
    ) -> None:
        response = await client.post(
            f"{API}/roles",
            json={"name": "odd", "permissions": ["users:read", "moon:land"]},
            headers=admin.headers,
        )
        error = assert_error(response, 422, "unknown_permission")
        assert error["details"] == {"unknown_permissions": ["moon:land"]}

    @pytest.mark.parametrize("name", ["Admin", "1role", "has space", "x", "a" * 65, "drop;table"])
    async def test_names_are_lower_snake_case(
        self, client: httpx.AsyncClient, admin: Any, name: str
    ) -> None:
        response = await client.post(f"{API}/roles", json={"name": name}, headers=admin.headers)
        assert_error(response, 422, "validation_error")


class TestUpdateRole:
    async def test_changes_permissions_and_description(
        self, client: httpx.AsyncClient, admin: Any
    ) -> None:
        created = await client.post(f"{API}/roles", json={"name": "auditor"}, headers=admin.headers)
        response = await client.patch(
            f"{API}/roles/{created.json()['id']}",
            json={"permissions": ["activity:read"], "description": "Reads the trail"},
            headers=admin.headers,
        )
        assert response.status_code == 200
        assert response.json()["permissions"] == ["activity:read"]
        assert response.json()["description"] == "Reads the trail"

    async def test_super_admin_is_immutable(self, client: httpx.AsyncClient, admin: Any) -> None:
        target = await role_id(client, admin.headers, "super_admin")
        response = await client.patch(
            f"{API}/roles/{target}", json={"permissions": []}, headers=admin.headers
        )
        assert_error(response, 409, "system_role_protected")

    async def test_system_roles_cannot_be_renamed(
        self, client: httpx.AsyncClient, admin: Any
    ) -> None:
        target = await role_id(client, admin.headers, "user")
        response = await client.patch(
            f"{API}/roles/{target}", json={"name": "member"}, headers=admin.headers
        )
        assert_error(response, 409, "system_role_protected")

    @pytest.mark.parametrize("seeded", ["user", "admin"])
    async def test_only_a_super_admin_edits_a_seeded_role(
        self, client: httpx.AsyncClient, admin: Any, register: Any, seeded: str
    ) -> None:
        plain_admin = await make_plain_admin(client, admin, register)
        target = await role_id(client, admin.headers, seeded)
        refused = await client.patch(
            f"{API}/roles/{target}",
            json={"description": "changed", "permissions": ["files:read"]},
            headers=plain_admin.headers,
        )
        assert_error(refused, 403, "privilege_escalation")
        allowed = await client.patch(
            f"{API}/roles/{target}", json={"description": "changed"}, headers=admin.headers
        )
        assert allowed.status_code == 200
        assert allowed.json()["description"] == "changed"

    async def test_a_demoted_admin_cannot_edit_roles_with_its_old_token(
        self, client: httpx.AsyncClient, admin: Any, register: Any
    ) -> None:
        created = await client.post(f"{API}/roles", json={"name": "auditor"}, headers=admin.headers)
        demoted = await make_plain_admin(client, admin, register)
        await client.put(
            f"{API}/users/{demoted.id}/roles", json={"roles": ["user"]}, headers=admin.headers
        )
        response = await client.patch(
            f"{API}/roles/{created.json()['id']}",
            json={"permissions": ["activity:read"]},
            headers=demoted.headers,
        )
        assert_error(response, 401, "token_revoked")
        deleted = await client.delete(
            f"{API}/roles/{created.json()['id']}", headers=demoted.headers
        )
        assert_error(deleted, 401, "token_revoked")

    async def test_unknown_role_is_404(self, client: httpx.AsyncClient, admin: Any) -> None:
        response = await client.patch(
            f"{API}/roles/00000000-0000-0000-0000-000000000000",
            json={"description": "x"},
            headers=admin.headers,
        )
        assert_error(response, 404, "role_not_found")


class TestDeleteRole:
    async def test_deletes_an_unused_role(self, client: httpx.AsyncClient, admin: Any) -> None:
        created = await client.post(f"{API}/roles", json={"name": "temp"}, headers=admin.headers)
        response = await client.delete(f"{API}/roles/{created.json()['id']}", headers=admin.headers)
        assert response.status_code == 204
        gone = await client.get(f"{API}/roles/{created.json()['id']}", headers=admin.headers)
        assert_error(gone, 404, "role_not_found")

    async def test_a_role_in_use_is_kept(
        self, client: httpx.AsyncClient, admin: Any, register: Any
    ) -> None:
        created = await client.post(f"{API}/roles", json={"name": "temp"}, headers=admin.headers)
        account = await register()
        await client.put(
            f"{API}/users/{account.id}/roles", json={"roles": ["temp"]}, headers=admin.headers
        )
        response = await client.delete(f"{API}/roles/{created.json()['id']}", headers=admin.headers)
        assert_error(response, 409, "role_in_use")

    async def test_system_roles_cannot_be_deleted(
        self, client: httpx.AsyncClient, admin: Any
    ) -> None:
        target = await role_id(client, admin.headers, "user")
        response = await client.delete(f"{API}/roles/{target}", headers=admin.headers)
        assert_error(response, 409, "system_role_protected")

    async def test_needs_roles_write(self, client: httpx.AsyncClient, register: Any) -> None:
        account = await register()
        response = await client.delete(
            f"{API}/roles/00000000-0000-0000-0000-000000000000", headers=account.headers
        )
        assert_error(response, 403, "permission_denied")
