"""Every operation of the auth service's OpenAPI document, fuzzed over HTTP as a super_admin:
no answer is a 5xx, and every answer is one the document describes (status, content type,
body, headers)."""

from __future__ import annotations

from typing import Any

from schemathesis import Case

from .conftest import AUTH_DOCUMENT_APP, AUTH_IDS, FUZZ_SETTINGS, Target, fuzz, fuzz_schema

schema = fuzz_schema(AUTH_DOCUMENT_APP, AUTH_IDS)


@schema.parametrize()
@FUZZ_SETTINGS
def test_auth_api_keeps_its_contract(case: Case[Any], auth_target: Target) -> None:
    fuzz(case, auth_target)
