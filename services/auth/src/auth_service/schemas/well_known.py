from __future__ import annotations

from typing import Any

from pydantic import BaseModel


class JWKS(BaseModel):
    keys: list[dict[str, Any]]


class OpenIDConfiguration(BaseModel):
    issuer: str
    jwks_uri: str
    token_endpoint: str
    grant_types_supported: list[str]
    token_endpoint_auth_methods_supported: list[str]
    response_types_supported: list[str]
    subject_types_supported: list[str]
    id_token_signing_alg_values_supported: list[str]
    claims_supported: list[str]
