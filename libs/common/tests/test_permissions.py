"""The permission catalog and the system roles: what auth seeds for every service."""

from __future__ import annotations

import re

import pytest

from common.permissions import (
    ADMIN,
    CATALOG,
    DEFAULT_ROLE,
    SUPER_ADMIN,
    SYSTEM_ROLES,
    USER,
    activity,
    auth,
    files,
    release_notes,
)
from common.permissions.catalog import _merged

SERVICE_MODULES = [auth, activity, release_notes, files]


class TestCatalog:
    def test_is_the_union_of_every_services_permissions(self) -> None:
        assert dict(CATALOG) == {
            name: description
            for module in SERVICE_MODULES
            for name, description in module.PERMISSIONS.items()
        }

    def test_names_are_resource_action_and_described(self) -> None:
        for name, description in CATALOG.items():
            assert re.fullmatch(r"[a-z_]+:[a-z_]+(:any)?", name), name
            assert description.strip(), name

    def test_two_services_cannot_claim_one_permission(self) -> None:
        with pytest.raises(ValueError, match=r"declared twice: \['users:read'\]"):
            _merged(auth.PERMISSIONS, {"users:read": "A second meaning"})


class TestSystemRoles:
    def test_every_grant_is_catalogued(self) -> None:
        for name, (_, grants) in SYSTEM_ROLES.items():
            assert grants <= CATALOG.keys(), (name, sorted(grants - CATALOG.keys()))

    def test_super_admin_holds_the_whole_catalog(self) -> None:
        assert SYSTEM_ROLES[SUPER_ADMIN][1] == frozenset(CATALOG)

    def test_admin_holds_everything_but_deleting_anyones_files(self) -> None:
        assert SYSTEM_ROLES[ADMIN][1] == frozenset(CATALOG) - {files.FILES_DELETE_ANY}

    def test_a_user_reads_release_notes_and_keeps_own_files(self) -> None:
        assert SYSTEM_ROLES[USER][1] == {
            release_notes.RELEASE_NOTES_READ,
            files.FILES_READ,
            files.FILES_WRITE,
        }

    def test_new_accounts_get_the_user_role(self) -> None:
        assert DEFAULT_ROLE == USER
        assert set(SYSTEM_ROLES) == {SUPER_ADMIN, ADMIN, USER}
