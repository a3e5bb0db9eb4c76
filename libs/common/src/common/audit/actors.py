"""Who did it: the actor of an audit event, with the address and user agent of the request
being served (`common.context.current_client`), so that services do not pass the client
through every call only to fill these two fields. Outside a request both are unknown."""

from __future__ import annotations

import uuid

from common.audit.event import Actor
from common.context import current_client
from common.security.principal import SERVICE_SUBJECT_PREFIX, Principal


def user_actor(user_id: uuid.UUID | str) -> Actor:
    client = current_client()
    return Actor(type="user", id=str(user_id), ip=client.ip, user_agent=client.user_agent)


def service_actor(name: str) -> Actor:
    """A machine client, by the name it authenticates with."""
    client = current_client()
    return Actor(
        type="service",
        id=f"{SERVICE_SUBJECT_PREFIX}{name}",
        ip=client.ip,
        user_agent=client.user_agent,
    )


def anonymous() -> Actor:
    client = current_client()
    return Actor(type="anonymous", ip=client.ip, user_agent=client.user_agent)


def principal_actor(principal: Principal) -> Actor:
    """The caller of an authenticated request, user or service."""
    client = current_client()
    return Actor(
        type="service" if principal.is_service else "user",
        id=principal.subject,
        ip=client.ip,
        user_agent=client.user_agent,
    )
