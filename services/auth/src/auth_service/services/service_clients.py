"""Machine clients of the client-credentials grant, created by an operator from the CLI."""

from __future__ import annotations

from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from auth_service import crud
from auth_service.audit import Action, recorder
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


async def create_service_client(
    session: AsyncSession, *, name: str, permissions: list[str]
) -> tuple[ServiceClient, str]:
    """Returns the client and its secret; only the secret's hash is kept, so it is shown once."""
    known = {p.name for p in await crud.permissions.get_by_names(session, set(permissions))}
    unknown = sorted(set(permissions) - known)
    if unknown:
        raise UnknownPermission(details={"unknown_permissions": unknown})
    secret, secret_hash = new_opaque_token()
    client = ServiceClient(name=name, secret_hash=secret_hash, permissions=sorted(set(permissions)))
    session.add(client)
    recorder.record(
        session,
        action=Action.SERVICE_CLIENT_CREATED,
        actor=SYSTEM,
        resource=Resource(type="service_client", id=name),
        metadata={"permissions": sorted(set(permissions))},
    )
    try:
        await session.commit()
    except IntegrityError as exc:
        await session.rollback()
        raise ServiceClientExists from exc
    return client, secret


async def disable_service_client(
    session: AsyncSession, *, name: str, revocations: AccessRevocations
) -> ServiceClient:
    """Stop a client: no new token for it, and the tokens it holds are revoked at once (a
    leaked secret is shut off without waiting for its tokens to expire)."""
    client = await crud.service_clients.get_by_name(session, name, for_update=True)
    if client is None:
        raise ServiceClientNotFound
    if client.is_active:
        client.is_active = False
        client.updated_at = utcnow()
        revocations.subject(session, f"{SERVICE_SUBJECT_PREFIX}{name}", at=client.updated_at)
        recorder.record(
            session,
            action=Action.SERVICE_CLIENT_DISABLED,
            actor=SYSTEM,
            resource=Resource(type="service_client", id=name),
        )
    await session.commit()
    return client
