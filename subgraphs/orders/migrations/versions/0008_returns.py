"""orders: returns of delivered units (returns, return_lines) and their process's steps (return_steps)

Revision ID: 0008_returns
Revises: 0007_fulfillment
Create Date: 2026-12-06

"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0008_returns"
down_revision: str | Sequence[str] | None = "0007_fulfillment"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "returns",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("order_id", sa.Uuid(), nullable=False),
        sa.Column("user_id", sa.Uuid(), nullable=False),
        sa.Column("idempotency_key", sa.String(length=100), nullable=False),
        sa.Column("request_hash", sa.String(length=64), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("reason", sa.String(length=500), nullable=False),
        sa.Column("rejection_reason", sa.String(length=500), nullable=True),
        sa.Column("currency", sa.String(length=3), nullable=False),
        sa.Column("refund_subtotal", sa.BigInteger(), server_default=sa.text("0"), nullable=False),
        sa.Column("refund_discount", sa.BigInteger(), server_default=sa.text("0"), nullable=False),
        sa.Column("refund_tax", sa.BigInteger(), server_default=sa.text("0"), nullable=False),
        sa.Column("refund_shipping", sa.BigInteger(), server_default=sa.text("0"), nullable=False),
        sa.Column("refund_total", sa.BigInteger(), server_default=sa.text("0"), nullable=False),
        sa.Column("lease_owner", sa.String(length=64), nullable=True),
        sa.Column("lease_until", sa.DateTime(timezone=True), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.Column("approved_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("rejected_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("received_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("refunded_at", sa.DateTime(timezone=True), nullable=True),
        sa.CheckConstraint(
            "status IN ('REQUESTED', 'APPROVED', 'REJECTED', 'RECEIVED', 'REFUNDED')",
            name=op.f("ck_returns_known_status"),
        ),
        sa.CheckConstraint("refund_total >= 0", name=op.f("ck_returns_refund_not_negative")),
        sa.ForeignKeyConstraint(
            ["order_id"], ["orders.id"], name=op.f("fk_returns_order_id_orders"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_returns")),
        sa.UniqueConstraint("order_id", "idempotency_key", name=op.f("uq_returns_order_id_idempotency_key")),
    )
    op.create_index("ix_returns_order_id_created_at", "returns", ["order_id", "created_at"], unique=False)
    op.create_index("ix_returns_created_at_id", "returns", ["created_at", "id"], unique=False)
    op.create_index(
        "ix_returns_unfinished_lease",
        "returns",
        ["lease_until"],
        unique=False,
        postgresql_where=sa.text("status = 'RECEIVED'"),
    )
    op.create_table(
        "return_lines",
        sa.Column("return_id", sa.Uuid(), nullable=False),
        sa.Column("line", sa.Integer(), nullable=False),
        sa.Column("quantity", sa.Integer(), nullable=False),
        sa.Column("subtotal", sa.BigInteger(), server_default=sa.text("0"), nullable=False),
        sa.Column("discount", sa.BigInteger(), server_default=sa.text("0"), nullable=False),
        sa.Column("tax", sa.BigInteger(), server_default=sa.text("0"), nullable=False),
        sa.Column("refund", sa.BigInteger(), server_default=sa.text("0"), nullable=False),
        sa.CheckConstraint("quantity > 0", name=op.f("ck_return_lines_quantity_positive")),
        sa.ForeignKeyConstraint(
            ["return_id"], ["returns.id"], name=op.f("fk_return_lines_return_id_returns"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("return_id", "line", name=op.f("pk_return_lines")),
    )
    op.create_table(
        "return_steps",
        sa.Column("return_id", sa.Uuid(), nullable=False),
        sa.Column("step", sa.String(length=32), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("attempts", sa.Integer(), server_default=sa.text("0"), nullable=False),
        sa.Column("detail", sa.Text(), nullable=True),
        sa.Column("updated_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.ForeignKeyConstraint(
            ["return_id"], ["returns.id"], name=op.f("fk_return_steps_return_id_returns"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("return_id", "step", name=op.f("pk_return_steps")),
    )


def downgrade() -> None:
    op.drop_table("return_steps")
    op.drop_table("return_lines")
    op.drop_index(
        "ix_returns_unfinished_lease", table_name="returns", postgresql_where=sa.text("status = 'RECEIVED'")
    )
    op.drop_index("ix_returns_created_at_id", table_name="returns")
    op.drop_index("ix_returns_order_id_created_at", table_name="returns")
    op.drop_table("returns")
