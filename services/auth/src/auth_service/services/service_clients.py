"""Machine clients of the client-credentials grant, created and disabled by an operator from
the CLI."""

from __future__ import annotations

from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from auth_service.audit import Action, recorder
from auth_service.crud import PermissionRepository, ServiceClientRepository
from auth_service.exceptions import (
    ServiceClientExists,
    ServiceClientNotFound,
    UnknownPermission,
)
from auth_service.models import ServiceClient
from auth_service.services.revocations import AccessRevocations
from auth_service.services.tokens import new_opaque_token
from common.audit import SYSTEM, Resource
from common.db import utcnow
from common.security import SERVICE_SUBJECT_PREFIX


class ServiceClientAdmin:
    def __init__(self, session: AsyncSession, *, revocations: AccessRevocations) -> None:
        self.session = session
        self.revocations = revocations
        self.clients = ServiceClientRepository(session)
        self.catalog = PermissionRepository(session)

    async def create(self, *, name: str, permissions: list[str]) -> tuple[ServiceClient, str]:
        """Returns the client and its secret; only the secret's hash is kept, so it is shown
        once."""
        wanted = sorted(set(permissions))
        known = {p.name for p in await self.catalog.get_by_names(wanted)}
        unknown = sorted(set(wanted) - known)
        if unknown:
            raise UnknownPermission(details={"unknown_permissions": unknown})
        secret, secret_hash = new_opaque_token()
        client = self.clients.add(
            ServiceClient(name=name, secret_hash=secret_hash, permissions=wanted)
        )
        recorder.record(
            self.session,
            action=Action.SERVICE_CLIENT_CREATED,
            actor=SYSTEM,
            resource=Resource(type="service_client", id=name),
            metadata={"permissions": wanted},
        )
        try:
            await self.session.commit()
        except IntegrityError as exc:
            await self.session.rollback()
            raise ServiceClientExists from exc
        return client, secret

    async def disable(self, *, name: str) -> ServiceClient:
        """Stop a client: no new token for it, and the tokens it holds are revoked at once (a
        leaked secret is shut off without waiting for its tokens to expire)."""
        client = await self.clients.get_by_name(name, for_update=True)
        if client is None:
            raise ServiceClientNotFound
        if client.is_active:
            client.is_active = False
            client.updated_at = utcnow()
            subject = f"{SERVICE_SUBJECT_PREFIX}{name}"
            self.revocations.subject(self.session, subject, at=client.updated_at)
            recorder.record(
                self.session,
                action=Action.SERVICE_CLIENT_DISABLED,
                actor=SYSTEM,
                resource=Resource(type="service_client", id=name),
            )
        await self.session.commit()
        return client
