"""email verification

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-01 17:00:00.000000+00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column(
        "user",
        sa.Column("email_verified_at", sa.DateTime(timezone=True), nullable=True),
        schema="auth",
    )
    op.create_table(
        "email_verification_token",
        sa.Column("token_hash", sa.String(length=64), nullable=False),
        sa.Column("user_id", sa.Uuid(), nullable=False),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("used_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.ForeignKeyConstraint(
            ["user_id"],
            ["auth.user.id"],
            name=op.f("fk_email_verification_token_user_id_user"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_email_verification_token")),
        sa.UniqueConstraint("token_hash", name=op.f("uq_email_verification_token_token_hash")),
        schema="auth",
    )
    op.create_index(
        op.f("ix_auth_email_verification_token_user_id"),
        "email_verification_token",
        ["user_id"],
        unique=False,
        schema="auth",
    )


def downgrade() -> None:
    op.drop_index(
        op.f("ix_auth_email_verification_token_user_id"),
        table_name="email_verification_token",
        schema="auth",
    )
    op.drop_table("email_verification_token", schema="auth")
    op.drop_column("user", "email_verified_at", schema="auth")
