"""Minting access tokens (RFC 9068 JWT profile) and opaque refresh/reset tokens."""

from __future__ import annotations

import hashlib
import secrets
import time
import uuid
from collections.abc import Iterable
from dataclasses import dataclass

import jwt

from auth_service.services.signing_keys import ActiveSigningKey
from auth_service.settings import AuthSettings
from common.security import ALGORITHM, RevocationList


def new_opaque_token() -> tuple[str, str]:
    """A 256-bit random token and the SHA-256 hash under which it is stored."""
    token = secrets.token_urlsafe(32)
    return token, hash_opaque_token(token)


def hash_opaque_token(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


class ClaimsOutdated(Exception):
    """The claims were read no later than a revocation that concerns them: read them again
    at or after `retry_at` (epoch seconds)."""

    def __init__(self, retry_at: int) -> None:
        super().__init__(retry_at)
        self.retry_at = retry_at


@dataclass(frozen=True, slots=True)
class AccessToken:
    token: str
    expires_in: int

    @property
    def access_token(self) -> str:
        """The name OAuth2 answers give it (`TokenResponse`)."""
        return self.token


class AccessTokenIssuer:
    def __init__(
        self,
        settings: AuthSettings,
        key: ActiveSigningKey,
        revocations: RevocationList | None = None,
    ) -> None:
        self.issuer = settings.jwt_issuer
        self.audience = settings.jwt_audience
        self.ttl = settings.access_token_ttl_seconds
        self.key = key
        self.revocations = revocations

    def _issued_at(self, subject: str, roles: set[str], claims_read_at: float | None) -> int:
        """When the claims were read, in whole seconds: a revocation made after that time
        refuses the token (its claims may predate the change). Raises ClaimsOutdated when a
        known revocation of this subject or role is not older than the read, so the caller
        reads them again once it is."""
        issued_at = int(time.time() if claims_read_at is None else claims_read_at)
        if self.revocations is not None:
            earliest = self.revocations.not_before(subject, roles)
            if earliest > issued_at:
                raise ClaimsOutdated(earliest)
        return issued_at

    async def issue(
        self,
        *,
        subject: str,
        roles: Iterable[str],
        permissions: Iterable[str],
        client_id: str,
        session_id: uuid.UUID | None = None,
        email_verified: bool | None = None,
        claims_read_at: float | None = None,
    ) -> AccessToken:
        """`claims_read_at`: when `roles`, `permissions` and `email_verified` were read from the
        database (now, if not given)."""
        roles = set(roles)
        now = self._issued_at(subject, roles, claims_read_at)
        kid, private_key = await self.key.get()
        claims: dict[str, object] = {
            "iss": self.issuer,
            "aud": self.audience,
            "sub": subject,
            "exp": now + self.ttl,
            "iat": now,
            "nbf": now,
            "jti": uuid.uuid4().hex,
            "client_id": client_id,
            "roles": sorted(roles),
            "permissions": sorted(permissions),
        }
        if session_id is not None:
            claims["sid"] = str(session_id)
        if email_verified is not None:
            claims["email_verified"] = email_verified
        token = jwt.encode(
            claims, private_key, algorithm=ALGORITHM, headers={"kid": kid, "typ": "at+jwt"}
        )
        return AccessToken(token=token, expires_in=self.ttl)
