"""revocation outbox

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-01 15:40:00.000000+00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "revocation_outbox",
        sa.Column("id", sa.BigInteger(), sa.Identity(always=False), nullable=False),
        sa.Column("event_id", sa.Uuid(), nullable=False),
        sa.Column("payload", sa.Text(), nullable=False),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_revocation_outbox")),
        sa.UniqueConstraint("event_id", name=op.f("uq_revocation_outbox_event_id")),
        schema="auth",
    )
    op.create_index(
        op.f("ix_auth_revocation_outbox_created_at"),
        "revocation_outbox",
        ["created_at"],
        unique=False,
        schema="auth",
    )


def downgrade() -> None:
    op.drop_index(
        op.f("ix_auth_revocation_outbox_created_at"),
        table_name="revocation_outbox",
        schema="auth",
    )
    op.drop_table("revocation_outbox", schema="auth")
