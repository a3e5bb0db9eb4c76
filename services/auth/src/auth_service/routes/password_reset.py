"""Forgotten passwords: a one-time link by e-mail."""

from __future__ import annotations

from fastapi import APIRouter, status

from auth_service.dependencies import PasswordResetServiceDep
from auth_service.schemas import PasswordResetConfirm, PasswordResetRequest
from common.schemas import MessageResponse, error_responses

router = APIRouter(prefix="/auth/password-reset", tags=["password reset"])

ACCEPTED = "If the address belongs to an account, a reset link is on its way."


@router.post(
    "/request",
    response_model=MessageResponse,
    status_code=status.HTTP_202_ACCEPTED,
    responses=error_responses(422, 429),
    summary="Send a reset link (same answer whether or not the account exists)",
)
async def request_reset(
    data: PasswordResetRequest, resets: PasswordResetServiceDep
) -> MessageResponse:
    await resets.request(email=data.email)
    return MessageResponse(detail=ACCEPTED)


@router.post(
    "/confirm",
    status_code=status.HTTP_204_NO_CONTENT,
    responses=error_responses(400, 422),
    summary="Set a new password with the token from the mail; signs out every session",
)
async def confirm_reset(data: PasswordResetConfirm, resets: PasswordResetServiceDep) -> None:
    await resets.confirm(token=data.token, new_password=data.new_password)
