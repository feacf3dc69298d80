"""payments: partial refunds: the refunds table, payments.refunded_amount, status PARTIALLY_REFUNDED

Revision ID: 0002_refunds
Revises: 0001_payments
Create Date: 2026-12-06
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0002_refunds"
down_revision: str | None = "0001_payments"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_OLD_STATUSES = "'PENDING', 'CAPTURED', 'DECLINED', 'FAILED', 'REFUNDED', 'VOIDED'"
_NEW_STATUSES = "'PENDING', 'CAPTURED', 'DECLINED', 'FAILED', 'PARTIALLY_REFUNDED', 'REFUNDED', 'VOIDED'"


def upgrade() -> None:
    op.add_column(
        "payments", sa.Column("refunded_amount", sa.BigInteger(), server_default=sa.text("0"), nullable=False)
    )
    # A payment refunded before this revision gave back all it captured.
    op.execute("UPDATE payments SET refunded_amount = amount WHERE status = 'REFUNDED'")
    op.alter_column("payments", "status", type_=sa.String(length=20), existing_nullable=False)
    op.drop_constraint(op.f("ck_payments_known_status"), "payments", type_="check")
    op.create_check_constraint(op.f("ck_payments_known_status"), "payments", f"status IN ({_NEW_STATUSES})")
    op.create_check_constraint(
        op.f("ck_payments_refunded_within_amount"),
        "payments",
        "refunded_amount >= 0 AND (amount IS NULL OR refunded_amount <= amount)",
    )
    op.create_table(
        "refunds",
        sa.Column("id", sa.Uuid(), server_default=sa.text("gen_random_uuid()"), nullable=False),
        sa.Column("key", sa.String(length=205), nullable=False),
        sa.Column("payment_id", sa.Uuid(), nullable=False),
        sa.Column("order_id", sa.Uuid(), nullable=False),
        sa.Column("amount", sa.BigInteger(), nullable=False),
        sa.Column("currency", sa.String(length=3), nullable=False),
        sa.Column("reason", sa.String(length=500), nullable=False),
        sa.Column("partial", sa.Boolean(), nullable=False),
        sa.Column("provider_reference", sa.String(length=200), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.CheckConstraint("amount BETWEEN 1 AND 9007199254740991", name=op.f("ck_refunds_amount_in_range")),
        sa.ForeignKeyConstraint(["payment_id"], ["payments.id"], name=op.f("fk_refunds_payment_id_payments")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_refunds")),
        sa.UniqueConstraint("key", name=op.f("uq_refunds_key")),
    )
    op.create_index("ix_refunds_payment_id_created_at", "refunds", ["payment_id", "created_at"], unique=False)


def downgrade() -> None:
    op.drop_index("ix_refunds_payment_id_created_at", table_name="refunds")
    op.drop_table("refunds")
    op.drop_constraint(op.f("ck_payments_refunded_within_amount"), "payments", type_="check")
    # A partly refunded payment has no place in the old statuses: it reads as still captured.
    op.execute("UPDATE payments SET status = 'CAPTURED' WHERE status = 'PARTIALLY_REFUNDED'")
    op.drop_constraint(op.f("ck_payments_known_status"), "payments", type_="check")
    op.create_check_constraint(op.f("ck_payments_known_status"), "payments", f"status IN ({_OLD_STATUSES})")
    op.alter_column("payments", "status", type_=sa.String(length=16), existing_nullable=False)
    op.drop_column("payments", "refunded_amount")
