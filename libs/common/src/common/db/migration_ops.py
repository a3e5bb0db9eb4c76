"""Operations a service's migrations share, for tables whose shape common defines.

A service that records audit events (or publishes any stream through `common.audit.relay`) has
an outbox table of `OutboxMixin`'s shape; its migration creates it with one call:

    def upgrade() -> None:
        create_outbox_table("audit_outbox", schema="billing")

    def downgrade() -> None:
        drop_outbox_table("audit_outbox", schema="billing")
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op


def create_outbox_table(name: str, *, schema: str) -> None:
    """The table and index `OutboxMixin` declares, named as autogenerate names them (so the
    models-and-migrations contract test sees no difference)."""
    op.create_table(
        name,
        sa.Column("id", sa.BigInteger(), sa.Identity(always=False), nullable=False),
        sa.Column("event_id", sa.Uuid(), nullable=False),
        sa.Column("payload", sa.Text(), nullable=False),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.PrimaryKeyConstraint("id", name=op.f(f"pk_{name}")),
        sa.UniqueConstraint("event_id", name=op.f(f"uq_{name}_event_id")),
        schema=schema,
    )
    op.create_index(
        op.f(f"ix_{schema}_{name}_created_at"), name, ["created_at"], unique=False, schema=schema
    )


def drop_outbox_table(name: str, *, schema: str) -> None:
    op.drop_index(op.f(f"ix_{schema}_{name}_created_at"), table_name=name, schema=schema)
    op.drop_table(name, schema=schema)
