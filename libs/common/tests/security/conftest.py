"""Token fixtures: real RSA keys, their JWKs, and real access tokens shaped like the auth
service's (RFC 9068), which a test bends one claim or header at a time."""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable, Iterable
from typing import Any

import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.hazmat.primitives.asymmetric.rsa import RSAPrivateKey
from jwt.algorithms import RSAAlgorithm

ISSUER = "https://auth.example.test"
AUDIENCE = "api"

Mint = Callable[..., str]
JwkOf = Callable[[RSAPrivateKey, str], dict[str, Any]]


def _new_key() -> RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


@pytest.fixture(scope="session")
def signing_key() -> RSAPrivateKey:
    return _new_key()


@pytest.fixture(scope="session")
def other_key() -> RSAPrivateKey:
    return _new_key()


@pytest.fixture(scope="session")
def issuer() -> str:
    return ISSUER


@pytest.fixture(scope="session")
def audience() -> str:
    return AUDIENCE


@pytest.fixture(scope="session")
def jwk_of() -> JwkOf:
    """`jwk_of(key, kid)`: the public JWK of `key`, as the auth service publishes it."""

    def to_jwk(key: RSAPrivateKey, kid: str) -> dict[str, Any]:
        jwk: dict[str, Any] = dict(RSAAlgorithm.to_jwk(key.public_key(), as_dict=True))
        jwk.update(kid=kid, use="sig", alg="RS256")
        return jwk

    return to_jwk


@pytest.fixture(scope="session")
def jwks_document(signing_key: RSAPrivateKey, jwk_of: JwkOf) -> dict[str, Any]:
    """The JWKS that publishes `signing_key` as `key-1`, the kid `mint` uses by default."""
    return {"keys": [jwk_of(signing_key, "key-1")]}


@pytest.fixture(scope="session")
def mint(signing_key: RSAPrivateKey) -> Mint:
    """`mint(key=..., kid=..., alg=..., typ=..., omit=[claims], **claims)`: a signed access
    token, valid for five minutes unless a claim says otherwise."""

    def make(
        *,
        key: Any = None,
        kid: str | None = "key-1",
        alg: str = "RS256",
        typ: str | None = "at+jwt",
        omit: Iterable[str] = (),
        **claims: Any,
    ) -> str:
        now = int(time.time())
        payload: dict[str, Any] = {
            "iss": ISSUER,
            "aud": AUDIENCE,
            "sub": str(uuid.uuid4()),
            "iat": now,
            "nbf": now,
            "exp": now + 300,
            "jti": uuid.uuid4().hex,
            "roles": ["user"],
            "permissions": ["files:read"],
        }
        payload.update(claims)
        for name in omit:
            del payload[name]
        headers: dict[str, Any] = {"typ": typ}
        if kid is not None:
            headers["kid"] = kid
        return jwt.encode(
            payload, signing_key if key is None else key, algorithm=alg, headers=headers
        )

    return make
