"""orders: order and cart lines reference a product variant (backfilled: the product's id, its one variant's)

Revision ID: 0006_variants
Revises: 0005_abandoned_carts
Create Date: 2026-12-06

"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

# revision identifiers, used by Alembic.
revision: str = "0006_variants"
down_revision: str | Sequence[str] | None = "0005_abandoned_carts"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # Every product older than variants has one variant sharing its id (products' 0005): a line of it is a
    # line of that variant.
    op.add_column("order_items", sa.Column("variant_id", sa.Uuid(), nullable=True))
    op.add_column("order_items", sa.Column("sku", sa.String(length=64), nullable=True))
    op.add_column(
        "order_items",
        sa.Column("selected_options", postgresql.JSONB(astext_type=sa.Text()), nullable=True),
    )
    op.execute("UPDATE order_items SET variant_id = product_id")
    op.alter_column("order_items", "variant_id", nullable=False)

    op.add_column("cart_lines", sa.Column("variant_id", sa.Uuid(), nullable=True))
    op.execute("UPDATE cart_lines SET variant_id = product_id")
    op.alter_column("cart_lines", "variant_id", nullable=False)
    op.drop_constraint("uq_cart_lines_cart_id_product_id", "cart_lines", type_="unique")
    op.create_unique_constraint(
        op.f("uq_cart_lines_cart_id_variant_id"), "cart_lines", ["cart_id", "variant_id"]
    )


def downgrade() -> None:
    # Before variants a cart held one line per product: lines of several variants of a product add up into
    # the oldest one (capped like a line), the others go.
    op.execute(
        "WITH grouped AS (SELECT cart_id, product_id, least(sum(quantity), 1000) AS q "
        "FROM cart_lines GROUP BY cart_id, product_id HAVING count(*) > 1), "
        "kept AS (SELECT DISTINCT ON (l.cart_id, l.product_id) l.id, g.q FROM cart_lines l "
        "JOIN grouped g ON g.cart_id = l.cart_id AND g.product_id = l.product_id "
        "ORDER BY l.cart_id, l.product_id, l.added_at, l.id), "
        "updated AS (UPDATE cart_lines SET quantity = kept.q FROM kept WHERE cart_lines.id = kept.id) "
        "DELETE FROM cart_lines l USING grouped g "
        "WHERE g.cart_id = l.cart_id AND g.product_id = l.product_id AND l.id NOT IN (SELECT id FROM kept)"
    )
    op.drop_constraint(op.f("uq_cart_lines_cart_id_variant_id"), "cart_lines", type_="unique")
    op.create_unique_constraint(
        op.f("uq_cart_lines_cart_id_product_id"), "cart_lines", ["cart_id", "product_id"]
    )
    op.drop_column("cart_lines", "variant_id")
    op.drop_column("order_items", "selected_options")
    op.drop_column("order_items", "sku")
    op.drop_column("order_items", "variant_id")
