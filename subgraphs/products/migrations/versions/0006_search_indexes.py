"""products: indexes of the faceted search (variants by option value, in stock; products' pricing columns)

Revision ID: 0006_search_indexes
Revises: 0005_variants_media
Create Date: 2026-12-06
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0006_search_indexes"
down_revision: str | None = "0005_variants_media"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_index(
        "ix_products_active_pricing",
        "products",
        ["id"],
        postgresql_include=["price_amount", "price_currency", "category"],
        postgresql_where=sa.text("active"),
    )
    op.create_index(
        "ix_product_variants_option_values",
        "product_variants",
        ["option_values"],
        postgresql_using="gin",
        postgresql_ops={"option_values": "jsonb_path_ops"},
        postgresql_where=sa.text("active"),
    )
    op.create_index(
        "ix_product_variants_product_id_in_stock",
        "product_variants",
        ["product_id"],
        postgresql_where=sa.text("active AND available_units > 0"),
    )


def downgrade() -> None:
    op.drop_index("ix_product_variants_product_id_in_stock", table_name="product_variants")
    op.drop_index("ix_product_variants_option_values", table_name="product_variants")
    op.drop_index("ix_products_active_pricing", table_name="products")
