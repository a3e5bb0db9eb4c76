"""Alembic environment of the activity service: its own schema, its own version table."""

from activity_service.models import SCHEMA, ActivityBase
from activity_service.settings import get_settings
from common.db.migrations import run_migrations

run_migrations(
    metadata=ActivityBase.metadata, schema=SCHEMA, default_url=lambda: get_settings().database_url
)
