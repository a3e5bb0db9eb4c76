"""Sessions after sign-in (which is `services/login.py`): refresh-token rotation with reuse
detection, logout, and the client-credentials grant for services.

A session is a family of refresh tokens. Each refresh replaces the presented token with a new
one of the same family; presenting a replaced (or revoked) token again means it was copied, so
the whole family is revoked and both holders must sign in again (OAuth 2.0 Security BCP, RFC
9700 §4.14.2). A family dies at its absolute expiry however often it was rotated.
"""

from __future__ import annotations

import hmac
import time
import uuid

from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession

from auth_service import crud
from auth_service.audit import Action, recorder, user_resource
from auth_service.exceptions import (
    InvalidClient,
    InvalidRefreshToken,
    RefreshTokenReused,
)
from auth_service.models import RefreshToken, User
from auth_service.schemas import TokenPair, TokenResponse
from auth_service.services.access_tokens import user_access_token
from auth_service.services.attempts import AddressLimit
from auth_service.services.revocations import AccessRevocations
from auth_service.services.tokens import (
    AccessToken,
    AccessTokenIssuer,
    ClaimsOutdated,
    hash_opaque_token,
    new_opaque_token,
)
from auth_service.settings import AuthSettings
from common.audit import Resource, anonymous, service_actor, user_actor
from common.db import utcnow
from common.errors import RateLimited
from common.security import SERVICE_SUBJECT_PREFIX


class SessionService:
    def __init__(
        self,
        session: AsyncSession,
        *,
        settings: AuthSettings,
        issuer: AccessTokenIssuer,
        client_failures: AddressLimit,
        revocations: AccessRevocations,
        engine: AsyncEngine,
    ) -> None:
        self.session = session
        self.engine = engine
        self.settings = settings
        self.issuer = issuer
        self.client_failures = client_failures
        self.revocations = revocations

    async def _access_token(self, user_id: uuid.UUID, family_id: uuid.UUID) -> AccessToken:
        """Signed after the rotation committed: no lock or pooled connection is held while the
        signing key is fetched, and the claims are read afresh (`services/access_tokens.py`)."""
        access = await user_access_token(
            self.issuer,
            self.engine,
            user_id,
            client_id=self.settings.jwt_client_id,
            session_id=family_id,
        )
        if access is None:  # deactivated since the commit, which revoked the new token too
            raise InvalidRefreshToken
        return access

    async def _locked(self, refresh_token: str) -> tuple[RefreshToken, User] | None:
        """The presented token and its account, both locked: the account's row first, as every
        revocation does (one lock order: a refresh either commits before a sign-out everywhere,
        password change or deactivation, and its new token is revoked with the others, or it
        waits and finds its token revoked)."""
        token_hash = hash_opaque_token(refresh_token)
        owner = await crud.refresh_tokens.owner(self.session, token_hash)
        if owner is None:
            return None
        user = await crud.users.get_for_update(self.session, owner)
        current = await crud.refresh_tokens.get_by_hash_for_update(self.session, token_hash)
        if user is None or current is None:
            return None
        return current, user

    async def refresh(self, *, refresh_token: str) -> TokenPair:
        now = utcnow()
        locked = await self._locked(refresh_token)
        if locked is None:
            raise InvalidRefreshToken
        current, user = locked
        if current.rotated_at is not None or current.revoked_at is not None:
            # A copy of the token exists: whoever holds the session's access token now may be
            # the thief, so it dies too.
            await crud.refresh_tokens.revoke_family(self.session, current.family_id, at=now)
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
            await crud.refresh_tokens.revoke_family(self.session, current.family_id, at=now)
            await self.session.commit()
            raise InvalidRefreshToken
        current.rotated_at = now
        refresh, refresh_hash = new_opaque_token()
        self.session.add(
            RefreshToken(
                token_hash=refresh_hash,
                user_id=user.id,
                family_id=current.family_id,
                expires_at=current.expires_at,
            )
        )
        await self.session.commit()
        access = await self._access_token(user.id, current.family_id)
        return TokenPair(
            access_token=access.token, refresh_token=refresh, expires_in=access.expires_in
        )

    async def logout(self, *, refresh_token: str) -> None:
        """Ends the session the token belongs to. Unknown tokens are ignored: logging out is
        idempotent and says nothing about which tokens exist."""
        locked = await self._locked(refresh_token)
        if locked is None:
            return
        current, _ = locked
        now = utcnow()
        await crud.refresh_tokens.revoke_family(self.session, current.family_id, at=now)
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
        await crud.users.lock(self.session, user_id)
        now = utcnow()
        await crud.refresh_tokens.revoke_for_user(self.session, user_id, at=now)
        self.revocations.account(self.session, user_id, at=now)
        recorder.record(
            self.session,
            action=Action.LOGOUT_ALL,
            actor=user_actor(user_id),
            resource=user_resource(user_id),
        )
        await self.session.commit()

    async def client_credentials(self, *, client_id: str, client_secret: str) -> TokenResponse:
        if not (client_id + client_secret).isprintable():
            raise InvalidClient  # no client has such a name or secret (and NUL can't be stored)
        refused = await self.client_failures.reserve()
        if refused is not None:
            raise RateLimited(retry_after=refused.retry_after)
        read_at = time.time()
        found = await crud.service_clients.get_by_name(self.session, client_id)
        presented = hash_opaque_token(client_secret)
        expected = found.secret_hash if found is not None else hash_opaque_token("")
        if found is None or not found.is_active or not hmac.compare_digest(presented, expected):
            recorder.record(
                self.session,
                action=Action.SERVICE_TOKEN_ISSUED,
                outcome="failure",
                actor=anonymous(),
                metadata={"client_id": client_id},
            )
            await self.session.commit()
            raise InvalidClient
        await self.client_failures.release()
        name, permissions = found.name, list(found.permissions)
        await self.session.commit()  # no pooled connection held while the key is fetched
        try:
            access = await self.issuer.issue(
                subject=f"{SERVICE_SUBJECT_PREFIX}{name}",
                roles=[],
                permissions=permissions,
                client_id=name,
                claims_read_at=read_at,
            )
        except ClaimsOutdated as exc:  # disabled (and its tokens revoked) as it was read
            raise InvalidClient from exc
        recorder.record(
            self.session,
            action=Action.SERVICE_TOKEN_ISSUED,
            actor=service_actor(name),
            resource=Resource(type="service_client", id=name),
            metadata={"permissions": permissions},
        )
        await self.session.commit()
        return TokenResponse(access_token=access.token, expires_in=access.expires_in)
