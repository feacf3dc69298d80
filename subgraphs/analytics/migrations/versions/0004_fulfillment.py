"""analytics: shipment times (fulfillmentTimes), refunds one by one (partial refunds), refunded returns

Revision ID: 0004_fulfillment
Revises: 0003_variants
Create Date: 2026-12-06

Nothing to backfill: no shipment or return existed before issue 18, and the refunds kept so far (full
refunds, on `payment_facts`) are counted by their orders' cancellations, as before.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision: str = "0004_fulfillment"
down_revision: str | Sequence[str] | None = "0003_variants"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "shipment_facts",
        sa.Column("shipment_id", sa.Uuid(), nullable=False),
        sa.Column("order_id", sa.Uuid(), nullable=False),
        sa.Column("order_created_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("shipped_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("delivered_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("shipment_id", name=op.f("pk_shipment_facts")),
    )
    op.create_index(
        "ix_shipment_facts_shipped_at",
        "shipment_facts",
        ["shipped_at"],
        postgresql_where=sa.text("shipped_at IS NOT NULL"),
    )
    op.create_index(
        "ix_shipment_facts_delivered_at",
        "shipment_facts",
        ["delivered_at"],
        postgresql_where=sa.text("delivered_at IS NOT NULL"),
    )
    op.create_table(
        "refund_facts",
        sa.Column("refund_id", sa.Uuid(), nullable=False),
        sa.Column("payment_id", sa.Uuid(), nullable=False),
        sa.Column("order_id", sa.Uuid(), nullable=True),
        sa.Column("amount", sa.BigInteger(), nullable=False),
        sa.Column("currency", sa.String(length=3), nullable=False),
        sa.Column("partial", sa.Boolean(), nullable=False),
        sa.Column("refunded_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("refund_id", name=op.f("pk_refund_facts")),
    )
    op.create_index(
        "ix_refund_facts_refunded_at", "refund_facts", ["refunded_at"], postgresql_where=sa.text("partial")
    )
    op.create_index("ix_refund_facts_payment_id", "refund_facts", ["payment_id"])
    op.create_table(
        "return_facts",
        sa.Column("return_id", sa.Uuid(), nullable=False),
        sa.Column("order_id", sa.Uuid(), nullable=False),
        sa.Column("currency", sa.String(length=3), nullable=False),
        sa.Column("items_net", sa.BigInteger(), nullable=False),
        sa.Column("discount_total", sa.BigInteger(), nullable=False),
        sa.Column("tax_total", sa.BigInteger(), nullable=False),
        sa.Column("shipping", sa.BigInteger(), nullable=False),
        sa.Column("total", sa.BigInteger(), nullable=False),
        sa.Column("refunded_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("return_id", name=op.f("pk_return_facts")),
    )
    op.create_index("ix_return_facts_refunded_at", "return_facts", ["refunded_at"])
    op.create_table(
        "return_lines",
        sa.Column("return_id", sa.Uuid(), nullable=False),
        sa.Column("line", sa.Integer(), nullable=False),
        sa.Column("order_id", sa.Uuid(), nullable=False),
        sa.Column("product_id", sa.Uuid(), nullable=False),
        sa.Column("variant_id", sa.Uuid(), nullable=False),
        sa.Column("quantity", sa.Integer(), nullable=False),
        sa.Column("refunded_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("return_id", "line", name=op.f("pk_return_lines")),
    )
    op.create_index("ix_return_lines_product_id", "return_lines", ["product_id"])
    op.create_index("ix_return_lines_variant_id", "return_lines", ["variant_id"])
    op.create_index("ix_return_lines_order_id_variant_id", "return_lines", ["order_id", "variant_id"])


def downgrade() -> None:
    op.drop_table("return_lines")
    op.drop_table("return_facts")
    op.drop_table("refund_facts")
    op.drop_table("shipment_facts")
