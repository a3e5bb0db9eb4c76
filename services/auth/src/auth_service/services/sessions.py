"""Sessions after sign-in (which is `services/login.py`): refresh-token rotation with reuse
detection, sign-out and sign-out everywhere.

A session is a family of refresh tokens. Each refresh replaces the presented token with a new
one of the same family; presenting a replaced (or revoked) token again means it was copied, so
the whole family is revoked and both holders must sign in again (OAuth 2.0 Security BCP, RFC
9700 §4.14.2). A family dies at its absolute expiry however often it was rotated.
"""

from __future__ import annotations

import uuid

from sqlalchemy.ext.asyncio import AsyncSession

from auth_service.audit import Action, recorder, user_resource
from auth_service.crud import RefreshTokenRepository, UserRepository
from auth_service.exceptions import InvalidRefreshToken, RefreshTokenReused
from auth_service.models import RefreshToken, User
from auth_service.services.access_tokens import SessionTokens, UserTokens
from auth_service.services.revocations import AccessRevocations
from auth_service.services.tokens import hash_opaque_token, new_opaque_token
from common.audit import anonymous, user_actor
from common.db import utcnow


class SessionService:
    def __init__(
        self, session: AsyncSession, *, tokens: UserTokens, revocations: AccessRevocations
    ) -> None:
        self.session = session
        self.tokens = tokens
        self.revocations = revocations
        self.users = UserRepository(session)
        self.refresh_tokens = RefreshTokenRepository(session)

    async def _locked(self, refresh_token: str) -> tuple[RefreshToken, User] | None:
        """The presented token and its account, both locked: the account's row first, as every
        revocation does (one lock order: a refresh either commits before a sign-out everywhere,
        password change or deactivation, and its new token is revoked with the others, or it
        waits and finds its token revoked)."""
        token_hash = hash_opaque_token(refresh_token)
        owner = await self.refresh_tokens.owner(token_hash)
        if owner is None:
            return None
        user = await self.users.get_for_update(owner)
        current = await self.refresh_tokens.get_by_hash_for_update(token_hash)
        if user is None or current is None:
            return None
        return current, user

    async def refresh(self, *, refresh_token: str) -> SessionTokens:
        now = utcnow()
        locked = await self._locked(refresh_token)
        if locked is None:
            raise InvalidRefreshToken
        current, user = locked
        if current.rotated_at is not None or current.revoked_at is not None:
            # A copy of the token exists: whoever holds the session's access token now may be
            # the thief, so it dies too.
            await self.refresh_tokens.revoke_family(current.family_id, at=now)
            self.revocations.sessions(self.session, [current.family_id], at=now)
            recorder.record(
                self.session,
                action=Action.REFRESH_TOKEN_REUSED,
                outcome="failure",
                actor=anonymous(),
                resource=user_resource(current.user_id),
                metadata={"session_id": str(current.family_id), "session_revoked": True},
            )
            await self.session.commit()
            raise RefreshTokenReused
        if current.expires_at <= now:
            raise InvalidRefreshToken
        if not user.is_active:
            await self.refresh_tokens.revoke_family(current.family_id, at=now)
            await self.session.commit()
            raise InvalidRefreshToken
        current.rotated_at = now
        refresh, refresh_hash = new_opaque_token()
        self.refresh_tokens.add(
            RefreshToken(
                token_hash=refresh_hash,
                user_id=user.id,
                family_id=current.family_id,
                expires_at=current.expires_at,
            )
        )
        await self.session.commit()
        # Signed after the rotation committed: no lock or pooled connection is held while the
        # signing key is fetched, and the claims are read afresh (`services/access_tokens.py`).
        tokens = await self.tokens.session(user.id, current.family_id, refresh)
        if tokens is None:  # deactivated since the commit, which revoked the new token too
            raise InvalidRefreshToken
        return tokens

    async def logout(self, *, refresh_token: str) -> None:
        """Ends the session the token belongs to. Unknown tokens are ignored: logging out is
        idempotent and says nothing about which tokens exist."""
        locked = await self._locked(refresh_token)
        if locked is None:
            return
        current, _ = locked
        now = utcnow()
        await self.refresh_tokens.revoke_family(current.family_id, at=now)
        self.revocations.sessions(self.session, [current.family_id], at=now)
        recorder.record(
            self.session,
            action=Action.LOGOUT,
            actor=user_actor(current.user_id),
            resource=user_resource(current.user_id),
            metadata={"session_id": str(current.family_id)},
        )
        await self.session.commit()

    async def logout_all(self, *, user_id: uuid.UUID) -> None:
        await self.users.lock(user_id)
        now = utcnow()
        await self.refresh_tokens.revoke_for_user(user_id, at=now)
        self.revocations.account(self.session, user_id, at=now)
        recorder.record(
            self.session,
            action=Action.LOGOUT_ALL,
            actor=user_actor(user_id),
            resource=user_resource(user_id),
        )
        await self.session.commit()
