"""`Principal`: who is calling, as the verified token says."""

from __future__ import annotations

import uuid

import pytest

from common.security import Principal


def principal(subject: str, *permissions: str) -> Principal:
    return Principal(
        subject=subject,
        roles=frozenset({"user"}),
        permissions=frozenset(permissions),
        token_id="t-1",
        expires_at=2_000_000_000,
    )


class TestSubject:
    def test_a_user_subject_is_the_users_id(self) -> None:
        user_id = uuid.uuid4()

        caller = principal(str(user_id))

        assert caller.user_id == user_id
        assert not caller.is_service

    def test_a_service_subject_has_no_user_id(self) -> None:
        caller = principal("service:billing")

        assert caller.is_service
        assert caller.user_id is None

    @pytest.mark.parametrize("subject", ["not-a-uuid", "42", "service"])
    def test_a_malformed_user_subject_has_no_user_id(self, subject: str) -> None:
        caller = principal(subject)

        assert caller.user_id is None
        assert not caller.is_service


class TestPermissions:
    def test_holds_every_listed_permission(self) -> None:
        assert principal("u", "a:read", "a:write").has_permissions("a:read", "a:write")

    def test_lacks_one_of_them(self) -> None:
        assert not principal("u", "a:read").has_permissions("a:read", "a:write")

    def test_asking_for_nothing_is_always_true(self) -> None:
        assert principal("u").has_permissions()

    def test_scoped_permissions_are_distinct(self) -> None:
        assert not principal("u", "files:read").has_permissions("files:read:any")
