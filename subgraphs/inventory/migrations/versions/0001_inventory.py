"""inventory: stock per product, reservations and their lines, the stock ledger, and the outbox

Revision ID: 0001_inventory
Revises:
Create Date: 2026-11-25

"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0001_inventory"
down_revision: str | Sequence[str] | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # The columns of shared.outbox.outbox_table, as this revision created them.
    op.create_table(
        "outbox",
        sa.Column("id", sa.BigInteger(), autoincrement=True, nullable=False),
        sa.Column("event_id", sa.Uuid(), nullable=False),
        sa.Column("event_type", sa.String(length=100), nullable=False),
        sa.Column("aggregate_id", sa.String(length=100), nullable=True),
        sa.Column("version", sa.Integer(), server_default=sa.text("1"), nullable=False),
        sa.Column("payload", postgresql.JSONB(astext_type=sa.Text()), nullable=False),
        sa.Column("occurred_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.Column("published_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_outbox")),
        sa.UniqueConstraint("event_id", name=op.f("uq_outbox_event_id")),
    )
    op.create_index(
        "ix_outbox_unpublished", "outbox", ["id"], postgresql_where=sa.text("published_at IS NULL")
    )
    op.create_table(
        "stock_items",
        sa.Column("product_id", sa.Uuid(), nullable=False),
        sa.Column("on_hand", sa.Integer(), server_default=sa.text("0"), nullable=False),
        sa.Column("reserved", sa.Integer(), server_default=sa.text("0"), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.CheckConstraint("on_hand >= reserved", name=op.f("ck_stock_items_on_hand_covers_reserved")),
        sa.CheckConstraint("reserved >= 0", name=op.f("ck_stock_items_reserved_not_negative")),
        sa.PrimaryKeyConstraint("product_id", name=op.f("pk_stock_items")),
    )
    op.create_table(
        "reservations",
        sa.Column("id", sa.Uuid(), server_default=sa.text("gen_random_uuid()"), nullable=False),
        sa.Column("key", sa.String(length=200), nullable=False),
        sa.Column("order_id", sa.Uuid(), nullable=True),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("reason", sa.String(length=200), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.CheckConstraint(
            "status IN ('RESERVED', 'CONFIRMED', 'RELEASED', 'EXPIRED', 'RESTOCKED')",
            name=op.f("ck_reservations_known_status"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_reservations")),
        sa.UniqueConstraint("key", name=op.f("uq_reservations_key")),
    )
    op.create_index(
        "ix_reservations_expires_at",
        "reservations",
        ["expires_at"],
        postgresql_where=sa.text("status = 'RESERVED'"),
    )
    op.create_table(
        "reservation_lines",
        sa.Column("reservation_id", sa.Uuid(), nullable=False),
        sa.Column("product_id", sa.Uuid(), nullable=False),
        sa.Column("quantity", sa.Integer(), nullable=False),
        sa.CheckConstraint("quantity > 0", name=op.f("ck_reservation_lines_quantity_positive")),
        sa.ForeignKeyConstraint(
            ["reservation_id"],
            ["reservations.id"],
            name=op.f("fk_reservation_lines_reservation_id_reservations"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("reservation_id", "product_id", name=op.f("pk_reservation_lines")),
    )
    op.create_table(
        "stock_movements",
        sa.Column("id", sa.BigInteger(), autoincrement=True, nullable=False),
        sa.Column("product_id", sa.Uuid(), nullable=False),
        sa.Column("delta_on_hand", sa.Integer(), nullable=False),
        sa.Column("delta_reserved", sa.Integer(), nullable=False),
        sa.Column("reason", sa.String(length=200), nullable=False),
        sa.Column("reservation_id", sa.Uuid(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.CheckConstraint(
            "delta_on_hand <> 0 OR delta_reserved <> 0", name=op.f("ck_stock_movements_moves_something")
        ),
        sa.ForeignKeyConstraint(
            ["product_id"],
            ["stock_items.product_id"],
            name=op.f("fk_stock_movements_product_id_stock_items"),
        ),
        sa.ForeignKeyConstraint(
            ["reservation_id"],
            ["reservations.id"],
            name=op.f("fk_stock_movements_reservation_id_reservations"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_stock_movements")),
    )
    op.create_index("ix_stock_movements_product_id_id", "stock_movements", ["product_id", "id"])
    op.create_index("ix_stock_movements_reservation_id", "stock_movements", ["reservation_id"])


def downgrade() -> None:
    op.drop_index("ix_stock_movements_reservation_id", table_name="stock_movements")
    op.drop_index("ix_stock_movements_product_id_id", table_name="stock_movements")
    op.drop_table("stock_movements")
    op.drop_table("reservation_lines")
    op.drop_index("ix_reservations_expires_at", table_name="reservations")
    op.drop_table("reservations")
    op.drop_table("stock_items")
    op.drop_index("ix_outbox_unpublished", table_name="outbox")
    op.drop_table("outbox")
