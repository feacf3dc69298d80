"""payments: one row per charge key (charges and VOIDED tombstones), and the outbox

Revision ID: 0001_payments
Revises:
Create Date: 2026-11-25
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0001_payments"
down_revision: str | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "payments",
        sa.Column("id", sa.Uuid(), server_default=sa.text("gen_random_uuid()"), nullable=False),
        sa.Column("key", sa.String(length=200), nullable=False),
        sa.Column("order_id", sa.Uuid(), nullable=True),
        sa.Column("user_id", sa.Uuid(), nullable=True),
        sa.Column("amount", sa.BigInteger(), nullable=True),
        sa.Column("currency", sa.String(length=3), nullable=True),
        sa.Column("method", sa.String(length=100), nullable=True),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("failure_reason", sa.String(length=500), nullable=True),
        sa.Column("provider_reference", sa.String(length=200), nullable=True),
        sa.Column("refund_reference", sa.String(length=200), nullable=True),
        sa.Column("refund_reason", sa.String(length=500), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.Column("refunded_at", sa.DateTime(timezone=True), nullable=True),
        sa.CheckConstraint(
            "status IN ('PENDING', 'CAPTURED', 'DECLINED', 'FAILED', 'REFUNDED', 'VOIDED')",
            name=op.f("ck_payments_known_status"),
        ),
        sa.CheckConstraint("amount BETWEEN 1 AND 9007199254740991", name=op.f("ck_payments_amount_in_range")),
        sa.CheckConstraint(
            "status = 'VOIDED' OR (order_id IS NOT NULL AND user_id IS NOT NULL AND amount IS NOT NULL "
            "AND currency IS NOT NULL AND method IS NOT NULL)",
            name=op.f("ck_payments_charge_details"),
        ),
        sa.CheckConstraint(
            "(status = 'REFUNDED') = (refunded_at IS NOT NULL)",
            name=op.f("ck_payments_refunded_at_iff_refunded"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_payments")),
        sa.UniqueConstraint("key", name=op.f("uq_payments_key")),
    )
    op.create_index("ix_payments_order_id_created_at", "payments", ["order_id", "created_at"], unique=False)

    # The columns of shared.outbox.outbox_table as this revision created them.
    op.create_table(
        "outbox",
        sa.Column("id", sa.BigInteger(), autoincrement=True, nullable=False),
        sa.Column("event_id", sa.Uuid(), nullable=False),
        sa.Column("event_type", sa.String(length=100), nullable=False),
        sa.Column("aggregate_id", sa.String(length=100), nullable=True),
        sa.Column("version", sa.Integer(), server_default=sa.text("1"), nullable=False),
        sa.Column("payload", postgresql.JSONB(astext_type=sa.Text()), nullable=False),
        sa.Column("occurred_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.Column("published_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_outbox")),
        sa.UniqueConstraint("event_id", name=op.f("uq_outbox_event_id")),
    )
    op.create_index(
        "ix_outbox_unpublished",
        "outbox",
        ["id"],
        unique=False,
        postgresql_where=sa.text("published_at IS NULL"),
    )


def downgrade() -> None:
    op.drop_index(
        "ix_outbox_unpublished", table_name="outbox", postgresql_where=sa.text("published_at IS NULL")
    )
    op.drop_table("outbox")
    op.drop_index("ix_payments_order_id_created_at", table_name="payments")
    op.drop_table("payments")
