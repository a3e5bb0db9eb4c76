"""Dependency providers: the filters of the query string and ready service objects. All are
`async def` (a plain `def` dependency costs a thread-pool hop per request)."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Query

from activity_service.schemas import IDENTIFIER_PATTERN, EventFilters
from activity_service.services.activity import ActivityService
from activity_service.services.verification import ChainVerifier
from activity_service.settings import ActivitySettings
from common.audit.event import ACTION_PATTERN, NAME_PATTERN
from common.dependencies import CoreDep, EngineDep, SessionDep
from common.schemas import UtcDateTime


async def get_settings(core: CoreDep) -> ActivitySettings:
    """The service's settings, as the core holds them (made from `ActivitySettings`)."""
    settings = core.settings
    if not isinstance(settings, ActivitySettings):
        raise TypeError("the activity service runs with ActivitySettings")
    return settings


SettingsDep = Annotated[ActivitySettings, Depends(get_settings)]


async def get_own_filters(
    action: Annotated[
        str | None,
        Query(max_length=128, pattern=ACTION_PATTERN, description="e.g. `auth.user.login`"),
    ] = None,
    resource_type: Annotated[
        str | None, Query(max_length=64, pattern=NAME_PATTERN, description="e.g. `user`")
    ] = None,
    resource_id: Annotated[str | None, Query(max_length=200, pattern=IDENTIFIER_PATTERN)] = None,
    # In UTC here, so that a time with no UTC value (year 1 at +01:00) is a 422 naming the
    # parameter, not an error of the database driver (or, in an export, a broken download).
    since: Annotated[
        UtcDateTime | None,
        Query(description="Occurred at or after (ISO 8601 with a time zone)."),
    ] = None,
    until: Annotated[
        UtcDateTime | None, Query(description="Occurred before (ISO 8601 with a time zone).")
    ] = None,
) -> EventFilters:
    return EventFilters(
        action=action,
        resource_type=resource_type,
        resource_id=resource_id,
        since=since,
        until=until,
    )


OwnFiltersDep = Annotated[EventFilters, Depends(get_own_filters)]


async def get_filters(
    filters: OwnFiltersDep,
    actor_id: Annotated[
        str | None,
        Query(
            max_length=200, pattern=IDENTIFIER_PATTERN, description="A user id or `service:<name>`."
        ),
    ] = None,
) -> EventFilters:
    return EventFilters(
        actor_id=actor_id,
        action=filters.action,
        resource_type=filters.resource_type,
        resource_id=filters.resource_id,
        since=filters.since,
        until=filters.until,
    )


FiltersDep = Annotated[EventFilters, Depends(get_filters)]


async def get_activity_service(
    session: SessionDep, engine: EngineDep, settings: SettingsDep
) -> ActivityService:
    return ActivityService(session, engine=engine, batch_size=settings.activity_scan_batch_size)


async def get_chain_verifier(session: SessionDep, settings: SettingsDep) -> ChainVerifier:
    return ChainVerifier(session, batch_size=settings.activity_scan_batch_size)


ActivityServiceDep = Annotated[ActivityService, Depends(get_activity_service)]
ChainVerifierDep = Annotated[ChainVerifier, Depends(get_chain_verifier)]
