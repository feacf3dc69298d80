"""products: tax_class (orders' tax table picks the rate by it) and weight_grams (shipping rates by weight)

Revision ID: 0004_tax_class_weight
Revises: 0003_processed_events
Create Date: 2026-12-06
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0004_tax_class_weight"
down_revision: str | None = "0003_processed_events"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # A constant default: PostgreSQL adds the column without rewriting the table.
    op.add_column(
        "products",
        sa.Column("tax_class", sa.String(length=32), server_default=sa.text("'standard'"), nullable=False),
    )
    op.add_column("products", sa.Column("weight_grams", sa.Integer(), nullable=True))
    op.create_check_constraint(
        op.f("ck_products_weight_grams_not_negative"), "products", "weight_grams IS NULL OR weight_grams >= 0"
    )


def downgrade() -> None:
    op.drop_constraint(op.f("ck_products_weight_grams_not_negative"), "products", type_="check")
    op.drop_column("products", "weight_grams")
    op.drop_column("products", "tax_class")
