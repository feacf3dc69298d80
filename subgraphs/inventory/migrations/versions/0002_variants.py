"""inventory: stock per variant (each row knowing its product and the catalog's active flags), and
processed_events for the catalog events it now consumes

Every existing row was a product's stock; products' migration 0005 gave every existing product one variant
sharing its id, so each row's key becomes that variant's id unchanged and its product id is that same id.
The ledger and the reservation lines follow (their `product_id` was the row's key: renamed `variant_id`); no
delta moves, so on_hand/reserved stay the sums of the ledger's deltas.

Revision ID: 0002_variants
Revises: 0001_inventory
Create Date: 2026-12-06
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0002_variants"
down_revision: str | None = "0001_inventory"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # Renames keep the data, the keys and the foreign key in place; the constraint and index names follow
    # the naming convention of their new column names.
    op.alter_column("stock_items", "product_id", new_column_name="variant_id")
    op.alter_column("reservation_lines", "product_id", new_column_name="variant_id")
    op.alter_column("stock_movements", "product_id", new_column_name="variant_id")
    op.execute(
        "ALTER TABLE stock_movements RENAME CONSTRAINT fk_stock_movements_product_id_stock_items "
        "TO fk_stock_movements_variant_id_stock_items"
    )
    op.execute("ALTER INDEX ix_stock_movements_product_id_id RENAME TO ix_stock_movements_variant_id_id")

    op.add_column("stock_items", sa.Column("product_id", sa.Uuid(), nullable=True))
    op.execute("UPDATE stock_items SET product_id = variant_id")
    op.alter_column("stock_items", "product_id", nullable=False)
    op.add_column(
        "stock_items",
        sa.Column("variant_active", sa.Boolean(), server_default=sa.text("true"), nullable=False),
    )
    op.add_column(
        "stock_items",
        sa.Column("product_active", sa.Boolean(), server_default=sa.text("true"), nullable=False),
    )
    op.add_column("stock_items", sa.Column("variant_event_at", sa.DateTime(timezone=True), nullable=True))
    op.add_column("stock_items", sa.Column("product_event_at", sa.DateTime(timezone=True), nullable=True))
    op.create_index("ix_stock_items_product_id", "stock_items", ["product_id"])

    # The columns of shared.subscriptions.processed_events_table as this revision created them.
    op.create_table(
        "processed_events",
        sa.Column("group", sa.String(length=100), nullable=False),
        sa.Column("event_id", sa.Uuid(), nullable=False),
        sa.Column(
            "processed_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False
        ),
        sa.PrimaryKeyConstraint("group", "event_id", name=op.f("pk_processed_events")),
    )


def downgrade() -> None:
    # Back to rows keyed by the id they hold: a variant of a multi-variant product keeps its own id, which
    # the older code takes for a product's.
    op.drop_table("processed_events")
    op.drop_index("ix_stock_items_product_id", table_name="stock_items")
    for column in ("product_event_at", "variant_event_at", "product_active", "variant_active", "product_id"):
        op.drop_column("stock_items", column)
    op.execute("ALTER INDEX ix_stock_movements_variant_id_id RENAME TO ix_stock_movements_product_id_id")
    op.execute(
        "ALTER TABLE stock_movements RENAME CONSTRAINT fk_stock_movements_variant_id_stock_items "
        "TO fk_stock_movements_product_id_stock_items"
    )
    op.alter_column("stock_movements", "variant_id", new_column_name="product_id")
    op.alter_column("reservation_lines", "variant_id", new_column_name="product_id")
    op.alter_column("stock_items", "variant_id", new_column_name="product_id")
