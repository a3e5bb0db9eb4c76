"""FastAPI dependencies that turn a bearer token into a `Principal` and enforce permissions.

@router.get("/users", dependencies=[require_permission("users:read")])
async def list_users(...): ...

async def me(principal: CurrentPrincipal): ...
"""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request, params
from fastapi.security import OAuth2PasswordBearer

from common.errors import NotAuthenticated, PermissionDenied
from common.runtime import service_core
from common.security.principal import Principal
from common.settings import AUTH_TOKEN_PATH

# Swagger's Authorize button posts the OAuth2 password form to auth's token endpoint: this path
# in the code, replaced in each app's OpenAPI by its settings' DOCS_TOKEN_URL (`common.docs`).
TOKEN_URL = AUTH_TOKEN_PATH
USER_SIGN_IN = "UserSignIn"
"""The name of the password flow among the OpenAPI security schemes (first in Authorize)."""

bearer_scheme = OAuth2PasswordBearer(
    tokenUrl=TOKEN_URL,
    scheme_name=USER_SIGN_IN,
    description="User sign-in (e-mail and password): your e-mail as username; leave client_id "
    "and client_secret empty.",
    auto_error=False,
)


async def get_principal(
    request: Request, token: Annotated[str | None, Depends(bearer_scheme)]
) -> Principal:
    if not token:
        raise NotAuthenticated
    return await service_core(request.app).token_verifier.verify(token)


CurrentPrincipal = Annotated[Principal, Depends(get_principal)]


class PermissionCheck:
    """The dependency behind `require_permission`: answers 403 unless the caller holds every one
    of `permissions`, and keeps them readable (`route.dependant` walks find them, so a contract
    test can hold every check against the permission catalog)."""

    def __init__(self, *permissions: str) -> None:
        self.permissions: tuple[str, ...] = permissions

    async def __call__(self, principal: CurrentPrincipal) -> Principal:
        if not principal.has_permissions(*self.permissions):
            raise PermissionDenied
        return principal

    def __repr__(self) -> str:
        return f"PermissionCheck{self.permissions!r}"


def require_permission(*permissions: str) -> params.Depends:
    """A dependency that answers 403 unless the caller holds every one of `permissions`:
    `Annotated[Principal, require_permission("users:read")]` is the caller, checked."""
    return params.Depends(PermissionCheck(*permissions))
