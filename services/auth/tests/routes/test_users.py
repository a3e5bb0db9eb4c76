"""User administration: search, read, change, deactivate, roles; and who may do it."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Awaitable, Callable
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import delete, select, update

from auth_service.models import Role, User, user_role
from common.runtime import service_core
from common.testing import assert_error

from ..conftest import Account, sign_in

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

    async def test_nobody_deactivates_their_own_account(
        self, client: httpx.AsyncClient, admin: Any
    ) -> None:
        response = await client.patch(
            f"{API}/users/{admin.id}", json={"is_active": False}, headers=admin.headers
        )
        assert_error(response, 403, "own_account_protected")
        me = await client.get(f"{API}/auth/me", headers=admin.headers)
        assert me.json()["is_active"] is True

    async def test_an_administrator_may_rename_their_own_account(
        self, client: httpx.AsyncClient, admin: Any
    ) -> None:
        response = await client.patch(
            f"{API}/users/{admin.id}", json={"full_name": "Root"}, headers=admin.headers
        )
        assert response.status_code == 200
        assert response.json()["full_name"] == "Root"

    @pytest.mark.parametrize("body", [{"is_active": None}, {"is_active": "yes"}])
    async def test_is_active_must_be_a_boolean(
        self, client: httpx.AsyncClient, register: Any, admin: Any, body: dict[str, Any]
    ) -> None:
        account = await register()
        response = await client.patch(f"{API}/users/{account.id}", json=body, headers=admin.headers)
        error = assert_error(response, 422, "validation_error")
        assert error["details"][0]["loc"][:2] == ["body", "is_active"]
        user = await client.get(f"{API}/users/{account.id}", headers=admin.headers)
        assert user.json()["is_active"] is True

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
        for victim, code in (
            (target.id, "privilege_escalation"),
            (helper.id, "own_account_protected"),
        ):
            response = await client.put(
                f"{API}/users/{victim}/roles", json={"roles": ["super_admin"]}, headers=headers
            )
            assert_error(response, 403, code)

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

    async def test_nobody_changes_their_own_roles(
        self, client: httpx.AsyncClient, admin: Any
    ) -> None:
        response = await client.put(
            f"{API}/users/{admin.id}/roles", json={"roles": ["admin"]}, headers=admin.headers
        )
        assert_error(response, 403, "own_account_protected")
        me = await client.get(f"{API}/auth/me", headers=admin.headers)
        assert me.json()["roles"] == ["super_admin"]

    async def test_needs_users_write(self, client: httpx.AsyncClient, register: Any) -> None:
        account = await register()
        response = await client.put(
            f"{API}/users/{account.id}/roles", json={"roles": ["admin"]}, headers=account.headers
        )
        assert_error(response, 403, "permission_denied")


async def make_plain_admin(client: httpx.AsyncClient, root: Any, register: Any) -> Account:
    """A registered account granted `admin` by `root`, signed in again so its token says so."""
    account = await register()
    granted = await client.put(
        f"{API}/users/{account.id}/roles", json={"roles": ["admin", "user"]}, headers=root.headers
    )
    assert granted.status_code == 200, granted.text
    return await sign_in(client, account.email, account.password)


class TestRightsComeFromTheDatabase:
    """A token carries the rights its holder had when it was issued; auth decides from what the
    holder has now."""

    async def test_a_demoted_admin_cannot_use_the_rights_its_token_still_claims(
        self, client: httpx.AsyncClient, app: FastAPI, register: Any, admin: Any
    ) -> None:
        """Demoted straight in the database, so no revocation reaches the token verifier: the
        database is what auth goes by."""
        demoted = await make_plain_admin(client, admin, register)
        victim = await register()
        async with service_core(app).database.sessionmaker() as session:
            await session.execute(
                delete(user_role).where(
                    user_role.c.user_id == uuid.UUID(demoted.id),
                    user_role.c.role_id.in_(select(Role.id).where(Role.name == "admin")),
                )
            )
            await session.commit()
        attempts = [
            client.get(f"{API}/users", headers=demoted.headers),
            client.get(f"{API}/users/{victim.id}", headers=demoted.headers),
            client.patch(
                f"{API}/users/{victim.id}", json={"is_active": False}, headers=demoted.headers
            ),
            client.put(
                f"{API}/users/{victim.id}/roles", json={"roles": ["admin"]}, headers=demoted.headers
            ),
            client.get(f"{API}/roles", headers=demoted.headers),
            client.post(f"{API}/roles", json={"name": "sneaky"}, headers=demoted.headers),
        ]
        for response in await asyncio.gather(*attempts):
            assert_error(response, 403, "permission_denied")
        victim_now = await client.get(f"{API}/users/{victim.id}", headers=admin.headers)
        assert victim_now.json()["is_active"] is True
        assert victim_now.json()["roles"] == ["user"]

    async def test_a_deactivated_admin_cannot_act_with_its_old_token(
        self, client: httpx.AsyncClient, app: FastAPI, register: Any, admin: Any
    ) -> None:
        rogue = await make_plain_admin(client, admin, register)
        other = await register()
        async with service_core(app).database.sessionmaker() as session:
            await session.execute(
                update(User).where(User.id == uuid.UUID(rogue.id)).values(is_active=False)
            )
            await session.commit()
        response = await client.patch(
            f"{API}/users/{other.id}", json={"full_name": "x"}, headers=rogue.headers
        )
        assert_error(response, 401, "account_inactive")

    async def test_a_demoted_and_deactivated_admin_cannot_undo_it(
        self, client: httpx.AsyncClient, register: Any, admin: Any
    ) -> None:
        """Through the API, demotion and deactivation also revoke the tokens the account holds,
        so they are refused before any rule is even asked."""
        rogue = await make_plain_admin(client, admin, register)
        await client.put(
            f"{API}/users/{rogue.id}/roles", json={"roles": ["user"]}, headers=admin.headers
        )
        await client.patch(
            f"{API}/users/{rogue.id}", json={"is_active": False}, headers=admin.headers
        )
        reactivate = await client.patch(
            f"{API}/users/{rogue.id}", json={"is_active": True}, headers=rogue.headers
        )
        assert_error(reactivate, 401, "token_revoked")
        regrant = await client.put(
            f"{API}/users/{rogue.id}/roles",
            json={"roles": ["admin", "user"]},
            headers=rogue.headers,
        )
        assert_error(regrant, 401, "token_revoked")
        state = await client.get(f"{API}/users/{rogue.id}", headers=admin.headers)
        assert state.json()["is_active"] is False
        assert state.json()["roles"] == ["user"]
        login = await client.post(
            f"{API}/auth/login", json={"email": rogue.email, "password": rogue.password}
        )
        assert_error(login, 401, "invalid_credentials")


MakeAdmin = Callable[..., Awaitable[Account]]


class TestConcurrentAdministration:
    """Two super_admins acting on each other at the same moment, over real connections,
    repeated: the rows are locked in one order, so the second sees the first's change."""

    @pytest.mark.parametrize(
        ("path", "body"),
        [("/roles", {"roles": ["user"]}), ("", {"is_active": False})],
        ids=["demote", "deactivate"],
    )
    async def test_mutual_removal_leaves_one_super_admin(
        self,
        live: httpx.AsyncClient,
        make_admin: MakeAdmin,
        path: str,
        body: dict[str, Any],
    ) -> None:
        for round_ in range(8):
            first = await make_admin(f"first{round_}@example.com")
            second = await make_admin(f"second{round_}@example.com")
            method = live.put if path else live.patch
            responses = await asyncio.gather(
                method(f"{API}/users/{second.id}{path}", json=body, headers=first.headers),
                method(f"{API}/users/{first.id}{path}", json=body, headers=second.headers),
            )
            statuses = sorted(r.status_code for r in responses)
            assert statuses[0] == 200, [r.text for r in responses]
            loser = next(r for r in responses if r.status_code != 200)
            assert loser.status_code in (401, 403), loser.text
            survivors = [
                a
                for a in (first, second)
                if (await live.get(f"{API}/auth/me", headers=a.headers)).json().get("roles")
                == ["super_admin"]
                and (
                    await live.post(
                        f"{API}/auth/login", json={"email": a.email, "password": a.password}
                    )
                ).status_code
                == 200
            ]
            assert len(survivors) == 1, round_
            # Leave one super_admin per round: the survivor steps aside for the next round.
            await live.put(
                f"{API}/users/{survivors[0].id}/roles",
                json={"roles": ["user"]},
                headers=(await make_admin(f"third{round_}@example.com")).headers,
            )
