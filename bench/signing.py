"""A throw-away RSA signing key, its JWKS, and access tokens shaped like the auth service's
(RS256, `typ: at+jwt`, the claims RFC 9068 and `TokenVerifier` require).

The token-check benchmark verifies tokens exactly as every service does, but must not depend on
the auth service to mint them: it would then measure auth too.
"""

from __future__ import annotations

import json
import secrets
import time
import uuid
from dataclasses import dataclass
from typing import Any

import jwt
from cryptography.hazmat.primitives.asymmetric import rsa
from jwt.algorithms import RSAAlgorithm

from bench.servers import ISSUER
from common.security import ALGORITHM

AUDIENCE = "api"


@dataclass(frozen=True, slots=True)
class SigningKey:
    kid: str
    private_key: rsa.RSAPrivateKey

    @classmethod
    def generate(cls) -> SigningKey:
        key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        return cls(kid=secrets.token_urlsafe(16), private_key=key)

    def jwks(self) -> dict[str, Any]:
        jwk: dict[str, Any] = json.loads(RSAAlgorithm.to_jwk(self.private_key.public_key()))
        jwk.update({"kid": self.kid, "use": "sig", "alg": ALGORITHM})
        return {"keys": [jwk]}

    def access_token(self, *, permissions: list[str], ttl_seconds: int = 3600) -> str:
        now = int(time.time())
        claims = {
            "iss": ISSUER,
            "aud": AUDIENCE,
            "sub": str(uuid.uuid4()),
            "iat": now,
            "nbf": now,
            "exp": now + ttl_seconds,
            "jti": uuid.uuid4().hex,
            "client_id": "first-party",
            "sid": str(uuid.uuid4()),
            "roles": ["user"],
            "permissions": sorted(permissions),
        }
        return jwt.encode(
            claims,
            self.private_key,
            algorithm=ALGORITHM,
            headers={"kid": self.kid, "typ": "at+jwt"},
        )
