"""Confirming that an account's address belongs to its owner."""

from __future__ import annotations

from fastapi import APIRouter, status

from auth_service.dependencies import EmailVerificationServiceDep
from auth_service.schemas import EmailVerificationConfirm, EmailVerificationRequest
from common.schemas import MessageResponse, error_responses

router = APIRouter(prefix="/auth/verify-email", tags=["e-mail verification"])

ACCEPTED = "If the address belongs to an account that is not verified yet, a link is on its way."


@router.post(
    "/request",
    response_model=MessageResponse,
    status_code=status.HTTP_202_ACCEPTED,
    responses=error_responses(422, 429),
    summary="Send a verification link (same answer whether or not the account exists)",
)
async def request_verification(
    data: EmailVerificationRequest,
    service: EmailVerificationServiceDep,
) -> MessageResponse:
    await service.request(email=data.email)
    return MessageResponse(detail=ACCEPTED)


@router.post(
    "/confirm",
    status_code=status.HTTP_204_NO_CONTENT,
    responses=error_responses(400, 422),
    summary="Confirm the address with the token from the mail",
)
async def confirm_verification(
    data: EmailVerificationConfirm,
    service: EmailVerificationServiceDep,
) -> None:
    await service.confirm(token=data.token)
