"""analytics: order lines and stock levels per product variant (backfilled: the product's id, its variant's)

Revision ID: 0003_variants
Revises: 0002_price_breakdown
Create Date: 2026-12-06

"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision: str = "0003_variants"
down_revision: str | Sequence[str] | None = "0002_price_breakdown"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # Every product older than variants has one variant sharing its id (products' 0005): the lines and stock
    # levels kept so far are that variant's.
    op.add_column("order_lines", sa.Column("variant_id", sa.Uuid(), nullable=True))
    op.execute("UPDATE order_lines SET variant_id = product_id")
    op.alter_column("order_lines", "variant_id", nullable=False)
    op.drop_constraint("pk_order_lines", "order_lines", type_="primary")
    op.create_primary_key(op.f("pk_order_lines"), "order_lines", ["order_id", "variant_id"])
    op.create_index("ix_order_lines_variant_id", "order_lines", ["variant_id"])

    op.alter_column("stock_levels", "product_id", new_column_name="variant_id")
    op.add_column("stock_levels", sa.Column("product_id", sa.Uuid(), nullable=True))
    op.execute("UPDATE stock_levels SET product_id = variant_id")
    op.alter_column("stock_levels", "product_id", nullable=False)
    op.create_index("ix_stock_levels_product_id", "stock_levels", ["product_id"])


def downgrade() -> None:
    # One stock row per product before variants: a product's variants' levels add up into it.
    op.drop_index("ix_stock_levels_product_id", table_name="stock_levels")
    op.execute(
        "CREATE TEMPORARY TABLE stock_by_product ON COMMIT DROP AS SELECT product_id, sum(available) AS a, "
        "sum(reserved) AS r, sum(on_hand) AS h, max(changed_at) AS c, sum(low_alerts) AS l, "
        "max(last_low_at) AS ll FROM stock_levels GROUP BY product_id"
    )
    op.execute("DELETE FROM stock_levels")
    op.drop_column("stock_levels", "product_id")
    op.alter_column("stock_levels", "variant_id", new_column_name="product_id")
    op.execute(
        "INSERT INTO stock_levels (product_id, available, reserved, on_hand, changed_at, low_alerts, "
        "last_low_at) SELECT product_id, a, r, h, c, l, ll FROM stock_by_product"
    )
    # One line per (order, product) before variants: an order's lines of one product add up (the unit price
    # becomes their average, rounded down: the amounts of such orders are approximate once downgraded).
    op.drop_index("ix_order_lines_variant_id", table_name="order_lines")
    op.execute(
        "CREATE TEMPORARY TABLE lines_by_product ON COMMIT DROP AS SELECT order_id, product_id, "
        "sum(quantity) AS q, sum(quantity * unit_price_amount) / sum(quantity) AS p, min(currency) AS c "
        "FROM order_lines GROUP BY order_id, product_id"
    )
    op.execute("DELETE FROM order_lines")
    op.drop_constraint("pk_order_lines", "order_lines", type_="primary")
    op.drop_column("order_lines", "variant_id")
    op.create_primary_key(op.f("pk_order_lines"), "order_lines", ["order_id", "product_id"])
    op.execute(
        "INSERT INTO order_lines (order_id, product_id, quantity, unit_price_amount, currency) "
        "SELECT order_id, product_id, q, p, c FROM lines_by_product"
    )
