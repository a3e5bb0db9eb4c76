"""Routers of the activity service; `API_ROUTERS` are mounted under the API prefix."""

from activity_service.routes import activity

API_ROUTERS = [activity.router]

__all__ = ["API_ROUTERS"]
