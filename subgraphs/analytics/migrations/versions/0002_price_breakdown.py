"""analytics: the price breakdown of an order (net, discount, shipping, tax) and its discounts

Revision ID: 0002_price_breakdown
Revises: 0001_analytics
Create Date: 2026-12-06

"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision: str = "0002_price_breakdown"
down_revision: str | Sequence[str] | None = "0001_analytics"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

BREAKDOWN = ("items_net", "discount_total", "shipping_net", "tax_total")


def upgrade() -> None:
    for column in BREAKDOWN:
        op.add_column("order_facts", sa.Column(column, sa.BigInteger(), nullable=True))
    op.create_table(
        "order_discounts",
        sa.Column("order_id", sa.Uuid(), nullable=False),
        sa.Column("promotion_id", sa.Uuid(), nullable=False),
        sa.Column("code", sa.String(length=64), nullable=True),
        sa.Column("name", sa.String(length=100), nullable=False),
        sa.Column("amount", sa.BigInteger(), nullable=False),
        sa.Column("currency", sa.String(length=3), nullable=False),
        sa.PrimaryKeyConstraint("order_id", "promotion_id", name=op.f("pk_order_discounts")),
    )
    op.create_index(
        op.f("ix_order_discounts_promotion_id"), "order_discounts", ["promotion_id"], unique=False
    )


def downgrade() -> None:
    op.drop_index(op.f("ix_order_discounts_promotion_id"), table_name="order_discounts")
    op.drop_table("order_discounts")
    for column in reversed(BREAKDOWN):
        op.drop_column("order_facts", column)
