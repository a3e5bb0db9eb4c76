"""The account pages (ACCOUNT_PAGES_ENABLED; `auth_service.pages` has their HTML): where the
mailed links lead when there is no front end. They call the same services as
`POST /auth/password-reset/confirm` and `POST /auth/verify-email/confirm`, so the rules, the
error codes and the audit events are the API's; every refusal is the API's 4xx status with its
code in `#result`, as HTML.

Opening a link only reads (mail scanners prefetch links); the change is a form's POST, with the
token in the body. These forms need no CSRF token: the reset token itself is the proof, a
256-bit secret only the mail's reader has. A forged cross-site POST would have to carry it, and
whoever holds it can already use it directly, so a CSRF token would prove nothing more. The
pages set no cookie and read none, so there is no ambient authority for another site to ride on.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Form
from fastapi.responses import HTMLResponse
from pydantic import ValidationError

from auth_service import pages
from auth_service.dependencies import (
    EmailVerificationServiceDep,
    PasswordResetServiceDep,
    SettingsDep,
)
from auth_service.exceptions import InvalidResetToken, PasswordMismatch
from auth_service.schemas import PasswordResetConfirm
from auth_service.settings import RESET_PAGE, VERIFICATION_PAGE
from common.errors import DomainError, InvalidInput

router = APIRouter(include_in_schema=False, default_response_class=HTMLResponse)

# No constraints: what the API's schema refuses is answered as HTML below, not as JSON 422.
FormText = Annotated[str, Form()]


@router.get(RESET_PAGE)
async def reset_password_page(
    resets: PasswordResetServiceDep, settings: SettingsDep, token: str = ""
) -> HTMLResponse:
    try:
        user = await resets.check(token=token)
    except DomainError as error:
        return pages.reset_refused(error)
    return pages.reset_form(token, email=user.email, min_length=settings.password_min_length)


@router.post(RESET_PAGE)
async def reset_password(
    *,
    resets: PasswordResetServiceDep,
    settings: SettingsDep,
    token: FormText = "",
    new_password: FormText = "",
    confirm_password: FormText = "",
    username: FormText = "",
) -> HTMLResponse:
    """`username` is the form's read-only account field (for password managers), shown again
    with the form and never trusted: the token alone says whose password changes."""
    try:
        data = _reset_body(token, new_password, confirm_password)
        await resets.confirm(token=data.token, new_password=data.new_password)
    except InvalidResetToken as error:
        return pages.reset_refused(error)
    except DomainError as error:
        rule = settings.password_min_length
        return pages.reset_form(token, email=username, min_length=rule, error=error)
    return pages.reset_done()


@router.get(VERIFICATION_PAGE)
async def verify_email_page(
    verifications: EmailVerificationServiceDep, token: str = ""
) -> HTMLResponse:
    try:
        user = await verifications.check(token=token)
    except DomainError as error:
        return pages.verification_refused(error)
    return pages.verification_form(token, email=user.email)


@router.post(VERIFICATION_PAGE)
async def verify_email(
    verifications: EmailVerificationServiceDep, token: FormText = ""
) -> HTMLResponse:
    try:
        await verifications.confirm(token=token)
    except DomainError as error:
        return pages.verification_refused(error)
    return pages.verification_done()


def _reset_body(token: str, new_password: str, confirm_password: str) -> PasswordResetConfirm:
    """The API's body from the form, or why not as a `DomainError` the page can show: the two
    passwords differ, the token is not one (empty or oversize: the link is broken), or the API's
    schema refuses the password (422 `validation_error`, as the API answers)."""
    if new_password != confirm_password:
        raise PasswordMismatch
    try:
        return PasswordResetConfirm(token=token, new_password=new_password)
    except ValidationError as exc:
        problems = exc.errors()
        if any(problem["loc"] == ("token",) for problem in problems):
            raise InvalidResetToken from exc
        raise InvalidInput(f"Check the new password: {problems[0]['msg']}.") from exc
