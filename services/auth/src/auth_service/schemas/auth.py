"""Bodies of the sign-in, token, password and registration endpoints."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import AfterValidator, BaseModel, EmailStr, Field

from common.schemas import RequestModel

Email = Annotated[EmailStr, AfterValidator(str.lower)]
# The policy (minimum length, blocklist) is checked by the service; the schema only bounds the
# size, so an oversize password is refused before anything hashes it.
Password = Annotated[str, Field(min_length=1, max_length=128)]
OpaqueToken = Annotated[str, Field(min_length=1, max_length=256)]


class RegisterRequest(RequestModel):
    email: Email
    password: Password
    full_name: Annotated[str | None, Field(max_length=200)] = None


class LoginRequest(RequestModel):
    email: Email
    password: Password


class RefreshRequest(RequestModel):
    refresh_token: OpaqueToken


class TokenPair(BaseModel):
    access_token: str
    refresh_token: str
    token_type: Literal["bearer"] = "bearer"  # noqa: S105 (a token type, not a secret)
    expires_in: int


class TokenResponse(BaseModel):
    """`POST /auth/token` answer: no refresh token for the client-credentials grant."""

    access_token: str
    token_type: Literal["bearer"] = "bearer"  # noqa: S105 (a token type, not a secret)
    expires_in: int
    refresh_token: str | None = None


class PasswordChangeRequest(RequestModel):
    current_password: Password
    new_password: Password


class PasswordResetRequest(RequestModel):
    email: Email


class PasswordResetConfirm(RequestModel):
    token: OpaqueToken
    new_password: Password


class EmailVerificationRequest(RequestModel):
    email: Email


class EmailVerificationConfirm(RequestModel):
    token: OpaqueToken
