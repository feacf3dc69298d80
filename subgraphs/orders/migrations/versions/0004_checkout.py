"""orders: checkout: the order's frozen price (breakdown, discounts, tax lines, shipping, addresses, cart) and
the cart's lock to its checkout's order

Revision ID: 0004_checkout
Revises: 0003_pricing
Create Date: 2026-12-06

"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

# revision identifiers, used by Alembic.
revision: str = "0004_checkout"
down_revision: str | Sequence[str] | None = "0003_pricing"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_ZERO = sa.text("0")


def upgrade() -> None:
    op.add_column("orders", sa.Column("cart_id", sa.Uuid(), nullable=True))
    op.add_column(
        "orders",
        sa.Column("prices_include_tax", sa.Boolean(), server_default=sa.text("false"), nullable=False),
    )
    for name in (
        "subtotal_amount",
        "discount_amount",
        "shipping_amount",
        "shipping_net_amount",
        "tax_amount",
        "items_net_amount",
    ):
        op.add_column("orders", sa.Column(name, sa.BigInteger(), server_default=_ZERO, nullable=False))
    op.add_column(
        "orders", sa.Column("shipping_method", postgresql.JSONB(astext_type=sa.Text()), nullable=True)
    )
    for name in ("discounts", "tax_lines"):
        op.add_column(
            "orders",
            sa.Column(
                name, postgresql.JSONB(astext_type=sa.Text()), server_default=sa.text("'[]'"), nullable=False
            ),
        )
    for name in ("shipping_address", "billing_address"):
        op.add_column("orders", sa.Column(name, postgresql.JSONB(astext_type=sa.Text()), nullable=True))
    for name in ("discount_amount", "tax_amount", "total_amount"):
        op.add_column("order_items", sa.Column(name, sa.BigInteger(), nullable=True))
    op.add_column("order_items", sa.Column("tax_class", sa.String(length=32), nullable=True))
    op.add_column("order_items", sa.Column("tax_rate_bp", sa.Integer(), nullable=True))
    op.add_column("carts", sa.Column("checkout_order_id", sa.Uuid(), nullable=True))


def downgrade() -> None:
    op.drop_column("carts", "checkout_order_id")
    for name in ("tax_rate_bp", "tax_class", "total_amount", "tax_amount", "discount_amount"):
        op.drop_column("order_items", name)
    for name in (
        "billing_address",
        "shipping_address",
        "tax_lines",
        "discounts",
        "shipping_method",
        "items_net_amount",
        "tax_amount",
        "shipping_net_amount",
        "shipping_amount",
        "discount_amount",
        "subtotal_amount",
        "prices_include_tax",
        "cart_id",
    ):
        op.drop_column("orders", name)
