"""Token fixtures: real RSA keys, their JWKs, and real access tokens shaped like the auth
service's (RFC 9068), which a test bends one claim or header at a time."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric.rsa import RSAPrivateKey

from common.testing.tokens import TokenMinter, new_signing_key, public_jwk

ISSUER = "https://auth.example.test"
AUDIENCE = "api"

Mint = Callable[..., str]
JwkOf = Callable[[RSAPrivateKey, str], dict[str, Any]]


@pytest.fixture(scope="session")
def minter() -> TokenMinter:
    return TokenMinter.generate(issuer=ISSUER, audience=AUDIENCE)


@pytest.fixture(scope="session")
def signing_key(minter: TokenMinter) -> RSAPrivateKey:
    return minter.key


@pytest.fixture(scope="session")
def other_key() -> RSAPrivateKey:
    return new_signing_key()


@pytest.fixture(scope="session")
def issuer() -> str:
    return ISSUER


@pytest.fixture(scope="session")
def audience() -> str:
    return AUDIENCE


@pytest.fixture(scope="session")
def jwk_of() -> JwkOf:
    """`jwk_of(key, kid)`: the public JWK of `key`, as the auth service publishes it."""
    return public_jwk


@pytest.fixture(scope="session")
def jwks_document(minter: TokenMinter) -> dict[str, Any]:
    """The JWKS that publishes `signing_key` as `key-1`, the kid `mint` uses by default."""
    return minter.jwks()


@pytest.fixture(scope="session")
def mint(minter: TokenMinter) -> Mint:
    """`mint(key=..., kid=..., alg=..., typ=..., omit=[claims], **claims)`: a signed access
    token, valid for five minutes unless a claim says otherwise (`TokenMinter.mint`)."""
    return minter.mint
