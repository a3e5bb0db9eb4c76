"""Alembic environment of the auth service: its own schema, its own version table."""

from auth_service.models import SCHEMA, AuthBase
from auth_service.settings import get_settings
from common.db.migrations import run_migrations

run_migrations(
    metadata=AuthBase.metadata, schema=SCHEMA, default_url=lambda: get_settings().database_url
)
