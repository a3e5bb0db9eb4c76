"""Access tokens shaped like the auth service's (RFC 9068: RS256, `typ: at+jwt`, the claims
`TokenVerifier` requires), signed by a throw-away key, for the tests and benchmarks of a service
that verifies tokens but must not need the auth service to get them.

    minter = TokenMinter.generate(issuer="https://auth.test", audience="api")
    settings = ...(jwt_issuer=minter.issuer, jwt_audience=minter.audience)
    jwks = minter.jwks()                    # what the service fetches from JWKS_URL
    token = minter.mint(permissions=["activity:read"])
    forged = minter.mint(alg="HS256", key=b"...", omit=["exp"])   # one thing bent at a time
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from types import EllipsisType
from typing import Any

import jwt
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.hazmat.primitives.asymmetric.rsa import RSAPrivateKey
from jwt.algorithms import RSAAlgorithm

from common.security import ALGORITHM

DEFAULT_KID = "key-1"


def new_signing_key() -> RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


def public_jwk(key: RSAPrivateKey, kid: str) -> dict[str, Any]:
    """The public JWK of `key`, as the auth service publishes it."""
    jwk: dict[str, Any] = dict(RSAAlgorithm.to_jwk(key.public_key(), as_dict=True))
    jwk.update(kid=kid, use="sig", alg=ALGORITHM)
    return jwk


@dataclass(frozen=True, slots=True)
class TokenMinter:
    issuer: str
    audience: str
    key: RSAPrivateKey
    kid: str = DEFAULT_KID

    @classmethod
    def generate(cls, *, issuer: str, audience: str, kid: str = DEFAULT_KID) -> TokenMinter:
        return cls(issuer=issuer, audience=audience, key=new_signing_key(), kid=kid)

    def jwks(self) -> dict[str, Any]:
        """The JWKS that publishes this minter's key."""
        return {"keys": [public_jwk(self.key, self.kid)]}

    def mint(
        self,
        *,
        permissions: Sequence[str] = (),
        ttl_seconds: int = 300,
        key: Any = None,
        kid: str | EllipsisType | None = ...,
        alg: str = ALGORITHM,
        typ: str | None = "at+jwt",
        omit: Iterable[str] = (),
        **claims: Any,
    ) -> str:
        """A signed access token for a new subject unless `sub` is given; `claims` override
        the defaults, `omit` removes claims, `key`/`kid`/`alg`/`typ` bend the signature and
        header (`kid=None` or `typ=None` leaves it out)."""
        now = int(time.time())
        payload: dict[str, Any] = {
            "iss": self.issuer,
            "aud": self.audience,
            "sub": str(uuid.uuid4()),
            "iat": now,
            "nbf": now,
            "exp": now + ttl_seconds,
            "jti": uuid.uuid4().hex,
            "roles": ["user"],
            "permissions": list(permissions),
        }
        payload.update(claims)
        for name in omit:
            del payload[name]
        headers: dict[str, Any] = {}
        kid = self.kid if kid is ... else kid
        if kid is not None:
            headers["kid"] = kid
        if typ is not None:
            headers["typ"] = typ
        return jwt.encode(payload, self.key if key is None else key, algorithm=alg, headers=headers)
