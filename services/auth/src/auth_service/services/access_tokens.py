"""A user's access token, from claims read afresh just before it is signed.

Sign-in reads the account before hashing the password, which takes a while; a refresh reads it
under its own locks. A demotion or a role losing permissions can commit in between, and a token
built from the earlier read would carry rights the user no longer has, past the revocation that
was meant to stop it. So the claims are read again right before signing, and the token's `iat`
is the moment of that read: a revocation made after the read refuses the token. When a known
revocation is not older than the read, the claims are read once more after it (decision 0003).
"""

from __future__ import annotations

import asyncio
import time
import uuid
from dataclasses import dataclass

from auth_service.crud import AccountHotPath
from auth_service.services.tokens import AccessToken, AccessTokenIssuer, ClaimsOutdated
from common.errors import ServiceUnavailable

MAX_READS = 3


class ClaimsUnsettled(ServiceUnavailable):
    code = "claims_unsettled"
    message = "The account's rights are changing; try again in a moment."


@dataclass(frozen=True, slots=True)
class SessionTokens:
    """What a sign-in or a refresh gives a session: its access token and its (next) refresh
    token."""

    access_token: str
    refresh_token: str
    expires_in: int


class UserTokens:
    """Signs the access tokens of user sessions (sign-in, refresh): one place for both."""

    def __init__(self, issuer: AccessTokenIssuer, hot_path: AccountHotPath, *, client_id: str):
        self.issuer = issuer
        self.hot_path = hot_path
        self.client_id = client_id

    async def session(
        self, user_id: uuid.UUID, session_id: uuid.UUID, refresh_token: str
    ) -> SessionTokens | None:
        """The pair for a session whose refresh token was just stored; None if the account is
        gone or deactivated by now (which revoked that refresh token too)."""
        access = await self.access_token(user_id, session_id)
        if access is None:
            return None
        return SessionTokens(access.token, refresh_token, access.expires_in)

    async def access_token(self, user_id: uuid.UUID, session_id: uuid.UUID) -> AccessToken | None:
        for _ in range(MAX_READS):
            read_at = time.time()
            claims = await self.hot_path.claims(user_id)
            if claims is None or not claims.is_active:
                return None
            try:
                return await self.issuer.issue(
                    subject=str(user_id),
                    roles=claims.roles,
                    permissions=claims.permissions,
                    client_id=self.client_id,
                    session_id=session_id,
                    email_verified=claims.email_verified,
                    claims_read_at=read_at,
                )
            except ClaimsOutdated as outdated:
                await asyncio.sleep(max(0.0, outdated.retry_at - time.time()))
        raise ClaimsUnsettled
