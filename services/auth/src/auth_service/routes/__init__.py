"""Routers of the auth service; `API_ROUTERS` are mounted under the API prefix."""

from auth_service.routes import auth, me, password_reset, roles, users, well_known

API_ROUTERS = [auth.router, me.router, password_reset.router, users.router, roles.router]
ROOT_ROUTERS = [well_known.router]

__all__ = ["API_ROUTERS", "ROOT_ROUTERS"]
