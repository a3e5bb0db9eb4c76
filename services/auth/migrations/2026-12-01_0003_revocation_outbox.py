"""revocation outbox

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-01 15:40:00.000000+00:00
"""

from collections.abc import Sequence

from common.db.migration_ops import create_outbox_table, drop_outbox_table

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    create_outbox_table("revocation_outbox", schema="auth")


def downgrade() -> None:
    drop_outbox_table("revocation_outbox", schema="auth")
