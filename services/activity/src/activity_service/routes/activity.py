"""The audit trail: lists, one event, chain verification, export. The fixed paths come before
`/{event_id}` so that `verify` and `export` are never read as event ids."""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Query
from fastapi.responses import StreamingResponse

from activity_service.dependencies import (
    ActivityServiceDep,
    ChainVerifierDep,
    FiltersDep,
    OwnFiltersDep,
)
from activity_service.schemas import (
    ChainBrokenResponse,
    ChainIntactResponse,
    EventResponse,
    VerifyResponse,
)
from activity_service.services.export import ExportFormat
from activity_service.services.verification import ChainBroken
from common.db import PageResponse
from common.dependencies import PageParamsDep
from common.permissions.activity import ActivityReader
from common.schemas import error_responses
from common.security import CurrentPrincipal

router = APIRouter(prefix="/activity", tags=["activity"])


@router.get(
    "",
    response_model=PageResponse[EventResponse],
    responses=error_responses(401, 403, 422),
    summary="Everyone's events, newest first",
)
async def list_events(
    _: ActivityReader, activity: ActivityServiceDep, filters: FiltersDep, page: PageParamsDep
) -> PageResponse[EventResponse]:
    result = await activity.search(filters=filters, params=page)
    return PageResponse[EventResponse].from_page(result)


@router.get(
    "/me",
    response_model=PageResponse[EventResponse],
    responses=error_responses(401, 422),
    summary="The caller's own events (they are the actor), newest first",
)
async def list_own_events(
    principal: CurrentPrincipal,
    activity: ActivityServiceDep,
    filters: OwnFiltersDep,
    page: PageParamsDep,
) -> PageResponse[EventResponse]:
    result = await activity.own(principal, filters=filters, params=page)
    return PageResponse[EventResponse].from_page(result)


@router.get(
    "/verify",
    response_model=VerifyResponse,
    responses=error_responses(401, 403, 422),
    summary="Check the hash chain, whole or from_seq..to_seq",
)
async def verify_chain(
    _: ActivityReader,
    verifier: ChainVerifierDep,
    from_seq: Annotated[int | None, Query(ge=1, le=2**63 - 1)] = None,
    to_seq: Annotated[int | None, Query(ge=1, le=2**63 - 1)] = None,
) -> VerifyResponse:
    report = await verifier.verify(from_seq=from_seq, to_seq=to_seq)
    if isinstance(report, ChainBroken):
        return ChainBrokenResponse.model_validate(report, from_attributes=True)
    return ChainIntactResponse.model_validate(report, from_attributes=True)


@router.get(
    "/export",
    response_class=StreamingResponse,
    responses={
        200: {
            "description": "The matching events, oldest first",
            "content": {"application/x-ndjson": {}, "text/csv": {}},
        },
        **error_responses(401, 403, 422, 503),
    },
    summary="Download the matching events as NDJSON or CSV",
)
async def export_events(
    _: ActivityReader,
    activity: ActivityServiceDep,
    filters: FiltersDep,
    export_format: Annotated[ExportFormat, Query(alias="format")] = ExportFormat.NDJSON,
) -> StreamingResponse:
    export = await activity.export(filters=filters, export_format=export_format)
    return StreamingResponse(
        export.body,
        media_type=export.media_type,
        headers={"Content-Disposition": f'attachment; filename="{export.filename}"'},
    )


@router.get(
    "/{event_id}",
    response_model=EventResponse,
    responses=error_responses(401, 404, 422),
    summary="One event: yours, or anyone's with activity:read",
)
async def read_event(
    event_id: uuid.UUID, principal: CurrentPrincipal, activity: ActivityServiceDep
) -> EventResponse:
    return EventResponse.model_validate(await activity.get(event_id, principal=principal))
