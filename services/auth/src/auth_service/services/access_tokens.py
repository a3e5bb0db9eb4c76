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

from sqlalchemy.ext.asyncio import AsyncEngine

from auth_service import crud
from auth_service.services.tokens import AccessToken, AccessTokenIssuer, ClaimsOutdated
from common.errors import ServiceUnavailable

MAX_READS = 3


class ClaimsUnsettled(ServiceUnavailable):
    code = "claims_unsettled"
    message = "The account's rights are changing; try again in a moment."


async def user_access_token(
    issuer: AccessTokenIssuer,
    engine: AsyncEngine,
    user_id: uuid.UUID,
    *,
    client_id: str,
    session_id: uuid.UUID,
) -> AccessToken | None:
    """None if the account is gone or deactivated by now."""
    for _ in range(MAX_READS):
        read_at = time.time()
        claims = await crud.users.claims(engine, user_id)
        if claims is None or not claims["is_active"]:
            return None
        try:
            return await issuer.issue(
                subject=str(user_id),
                roles=claims["roles"],
                permissions=claims["permissions"],
                client_id=client_id,
                session_id=session_id,
                email_verified=claims["email_verified"],
                claims_read_at=read_at,
            )
        except ClaimsOutdated as outdated:
            await asyncio.sleep(max(0.0, outdated.retry_at - time.time()))
    raise ClaimsUnsettled
