"""The auth schema's Alembic history: it matches the models and runs down and up cleanly."""

from __future__ import annotations

from common.testing.contracts import MigrationContract


class TestMigrations(MigrationContract):
    service = "auth"
