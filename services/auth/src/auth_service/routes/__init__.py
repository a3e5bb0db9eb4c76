"""Routers of the auth service; `API_ROUTERS` are mounted under the API prefix."""

from auth_service.routes import (
    auth,
    email_verification,
    me,
    pages,
    password_reset,
    roles,
    users,
    well_known,
)

API_ROUTERS = [
    auth.router,
    me.router,
    password_reset.router,
    email_verification.router,
    users.router,
    roles.router,
]
ROOT_ROUTERS = [well_known.router]
# Mounted at the root only with ACCOUNT_PAGES_ENABLED (`AuthSettings.serves_account_pages`).
PAGE_ROUTERS = [pages.router]

__all__ = ["API_ROUTERS", "PAGE_ROUTERS", "ROOT_ROUTERS"]
