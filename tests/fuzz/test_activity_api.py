"""Every operation of the activity service's OpenAPI document, fuzzed over HTTP as a
super_admin whose token the service verifies against the auth service's JWKS: no answer is a
5xx, and every answer is one the document describes (status, content type, body, headers)."""

from __future__ import annotations

from typing import Any

from schemathesis import Case

from .conftest import (
    ACTIVITY_DOCUMENT_APP,
    ACTIVITY_IDS,
    FUZZ_SETTINGS,
    Target,
    fuzz,
    fuzz_schema,
)

schema = fuzz_schema(ACTIVITY_DOCUMENT_APP, ACTIVITY_IDS)


@schema.parametrize()
@FUZZ_SETTINGS
def test_activity_api_keeps_its_contract(case: Case[Any], activity_target: Target) -> None:
    fuzz(case, activity_target)
