"""The client-credentials grant: machine clients (other services) trade their id and secret for
an access token carrying the client's permissions (`sub = service:<name>`, no refresh token).
Failed attempts are limited per client address; a disabled client's tokens are revoked
(`services/service_clients.py`)."""

from __future__ import annotations

import hmac
import time

from sqlalchemy.ext.asyncio import AsyncSession

from auth_service.audit import Action, recorder
from auth_service.crud import ServiceClientRepository
from auth_service.exceptions import InvalidClient
from auth_service.services.attempts import AddressLimit
from auth_service.services.tokens import (
    AccessToken,
    AccessTokenIssuer,
    ClaimsOutdated,
    hash_opaque_token,
)
from common.audit import Resource, anonymous, service_actor
from common.errors import RateLimited
from common.security import SERVICE_SUBJECT_PREFIX


class ClientCredentialsService:
    def __init__(
        self, session: AsyncSession, *, issuer: AccessTokenIssuer, failures: AddressLimit
    ) -> None:
        self.session = session
        self.issuer = issuer
        self.client_failures = failures
        self.clients = ServiceClientRepository(session)

    async def token(self, *, client_id: str, client_secret: str) -> AccessToken:
        if not (client_id + client_secret).isprintable():
            raise InvalidClient  # no client has such a name or secret (and NUL can't be stored)
        refused = await self.client_failures.reserve()
        if refused is not None:
            raise RateLimited(retry_after=refused.retry_after)
        read_at = time.time()
        found = await self.clients.get_by_name(client_id)
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
        return access
