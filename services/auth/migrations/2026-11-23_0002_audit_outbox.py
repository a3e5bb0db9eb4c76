"""audit outbox

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-23 22:21:05.386229+00:00
"""

from collections.abc import Sequence

from common.db.migration_ops import create_outbox_table, drop_outbox_table

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    create_outbox_table("audit_outbox", schema="auth")


def downgrade() -> None:
    drop_outbox_table("audit_outbox", schema="auth")
