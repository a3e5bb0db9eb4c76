"""Discovery documents at the root, where OAuth/OIDC clients look for them."""

from __future__ import annotations

from fastapi import APIRouter, Response

from auth_service.dependencies import KeyServiceDep, SettingsDep
from auth_service.schemas import JWKS, OpenIDConfiguration
from common.schemas import error_responses
from common.security import ALGORITHM

router = APIRouter(prefix="/.well-known", tags=["discovery"])

# Verifiers refetch on an unknown kid anyway; a short public cache spares the database.
JWKS_CACHE_CONTROL = "public, max-age=60"


@router.get(
    "/jwks.json",
    response_model=JWKS,
    responses=error_responses(503),  # read from the database
    summary="Public keys that verify access tokens",
)
async def jwks(response: Response, keys: KeyServiceDep) -> JWKS:
    response.headers["Cache-Control"] = JWKS_CACHE_CONTROL
    return JWKS.model_validate(await keys.jwks())


@router.get(
    "/openid-configuration",
    response_model=OpenIDConfiguration,
    summary="Discovery document: issuer, token endpoint, grants, JWKS",
)
async def openid_configuration(response: Response, settings: SettingsDep) -> OpenIDConfiguration:
    response.headers["Cache-Control"] = "public, max-age=3600"
    return OpenIDConfiguration(
        issuer=settings.jwt_issuer,
        jwks_uri=f"{settings.public_url}/.well-known/jwks.json",
        token_endpoint=f"{settings.public_url}{settings.api_prefix}/auth/token",
        grant_types_supported=["password", "refresh_token", "client_credentials"],
        token_endpoint_auth_methods_supported=["client_secret_basic", "client_secret_post"],
        response_types_supported=["token"],
        subject_types_supported=["public"],
        id_token_signing_alg_values_supported=[ALGORITHM],
        claims_supported=[
            "iss",
            "aud",
            "sub",
            "exp",
            "iat",
            "nbf",
            "jti",
            "client_id",
            "sid",
            "roles",
            "permissions",
            "email_verified",
        ],
    )
