"""The OpenAPI contract: every operation of auth's document has an id of the one rule
(`common.operation_ids`) and a summary of its own, and a client generated from it builds."""

from __future__ import annotations

from common.testing.contracts import OpenAPIContract


class TestOpenAPI(OpenAPIContract):
    """Operation ids, summaries and a generated client of auth's document."""
