"""create activity schema: the append-only, hash-chained event table

Revision ID: 0001
Revises:
Create Date: 2026-11-23 22:25:50.346903+00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

# Append-only for every role, the table owner and superusers included: the triggers are ENABLE
# ALWAYS, so `session_replication_role = replica` does not silence them either. Only ALTER TABLE
# by the owner (or a superuser) can disable them, which the service's role cannot do.
APPEND_ONLY_FUNCTION = """
CREATE FUNCTION activity.event_append_only() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'activity.event is append-only: % is not allowed', TG_OP
        USING HINT = 'Audit events are never changed or removed.';
END
$$
"""
TRIGGERS = {
    "event_refuse_update_delete": "BEFORE UPDATE OR DELETE ON activity.event FOR EACH ROW",
    "event_refuse_truncate": "BEFORE TRUNCATE ON activity.event FOR EACH STATEMENT",
}

revision: str = "0001"
down_revision: str | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "event",
        sa.Column("seq", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column("event_id", sa.Uuid(), nullable=False),
        sa.Column("occurred_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("recorded_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("service", sa.String(length=64), nullable=False),
        sa.Column("action", sa.String(length=128), nullable=False),
        sa.Column("outcome", sa.String(length=16), nullable=False),
        sa.Column("actor_type", sa.String(length=16), nullable=False),
        sa.Column("actor_id", sa.String(length=200), nullable=True),
        sa.Column("actor_ip", sa.String(length=64), nullable=True),
        sa.Column("actor_user_agent", sa.String(length=512), nullable=True),
        sa.Column("resource_type", sa.String(length=64), nullable=True),
        sa.Column("resource_id", sa.String(length=200), nullable=True),
        sa.Column("request_id", sa.String(length=128), nullable=True),
        sa.Column(
            "metadata",
            postgresql.JSONB(astext_type=sa.Text()),
            server_default=sa.text("'{}'::jsonb"),
            nullable=False,
        ),
        sa.Column("prev_hash", sa.String(length=64), nullable=False),
        sa.Column("hash", sa.String(length=64), nullable=False),
        sa.CheckConstraint(
            "actor_type IN ('user', 'service', 'system', 'anonymous')",
            name=op.f("ck_event_actor_type"),
        ),
        sa.CheckConstraint("char_length(hash) = 64", name=op.f("ck_event_hash_length")),
        sa.CheckConstraint("outcome IN ('success', 'failure')", name=op.f("ck_event_outcome")),
        sa.CheckConstraint("char_length(prev_hash) = 64", name=op.f("ck_event_prev_hash_length")),
        sa.CheckConstraint("seq > 0", name=op.f("ck_event_seq_positive")),
        sa.PrimaryKeyConstraint("seq", name=op.f("pk_event")),
        sa.UniqueConstraint("event_id", name=op.f("uq_event_event_id")),
        schema="activity",
        comment="Audit trail: append-only, hash-chained in seq order",
    )
    op.create_index(
        "ix_event_action_seq", "event", ["action", "seq"], unique=False, schema="activity"
    )
    op.create_index(
        "ix_event_actor_id_seq", "event", ["actor_id", "seq"], unique=False, schema="activity"
    )
    op.create_index(
        "ix_event_occurred_at", "event", ["occurred_at"], unique=False, schema="activity"
    )
    op.create_index(
        "ix_event_resource_seq",
        "event",
        ["resource_type", "resource_id", "seq"],
        unique=False,
        schema="activity",
    )
    op.execute(APPEND_ONLY_FUNCTION)
    for name, when in TRIGGERS.items():
        op.execute(f"CREATE TRIGGER {name} {when} EXECUTE FUNCTION activity.event_append_only()")
        op.execute(f"ALTER TABLE activity.event ENABLE ALWAYS TRIGGER {name}")


def downgrade() -> None:
    op.drop_index("ix_event_resource_seq", table_name="event", schema="activity")
    op.drop_index("ix_event_occurred_at", table_name="event", schema="activity")
    op.drop_index("ix_event_actor_id_seq", table_name="event", schema="activity")
    op.drop_index("ix_event_action_seq", table_name="event", schema="activity")
    op.drop_table("event", schema="activity")  # its triggers go with it
    op.execute("DROP FUNCTION activity.event_append_only()")
