"""orders: carts and their lines

Revision ID: 0002_carts
Revises: 0001_orders
Create Date: 2026-12-06

"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

# revision identifiers, used by Alembic.
revision: str = "0002_carts"
down_revision: str | Sequence[str] | None = "0001_orders"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    """Upgrade schema."""
    op.create_table(
        "carts",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("user_id", sa.Uuid(), nullable=True),
        sa.Column("token_hash", sa.String(length=64), nullable=True),
        sa.Column("status", sa.String(length=16), server_default="ACTIVE", nullable=False),
        sa.Column("currency", sa.String(length=3), nullable=True),
        sa.Column("shipping_address", postgresql.JSONB(astext_type=sa.Text()), nullable=True),
        sa.Column("billing_address", postgresql.JSONB(astext_type=sa.Text()), nullable=True),
        sa.Column("shipping_method_id", sa.String(length=100), nullable=True),
        sa.Column("voucher_code", sa.String(length=64), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.Column(
            "last_activity_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False
        ),
        sa.CheckConstraint(
            "user_id IS NOT NULL OR token_hash IS NOT NULL OR status <> 'ACTIVE'",
            name=op.f("ck_carts_has_owner"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_carts")),
        sa.UniqueConstraint("token_hash", name=op.f("uq_carts_token_hash")),
    )
    op.create_index(
        "uq_carts_user_id_active",
        "carts",
        ["user_id"],
        unique=True,
        postgresql_where=sa.text("status = 'ACTIVE' AND user_id IS NOT NULL"),
    )
    op.create_index("ix_carts_status_last_activity_at", "carts", ["status", "last_activity_at"], unique=False)
    op.create_table(
        "cart_lines",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("cart_id", sa.Uuid(), nullable=False),
        sa.Column("product_id", sa.Uuid(), nullable=False),
        sa.Column("quantity", sa.Integer(), nullable=False),
        sa.Column("seen_unit_price_amount", sa.BigInteger(), nullable=False),
        sa.Column("seen_currency", sa.String(length=3), nullable=False),
        sa.Column("added_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.CheckConstraint("quantity > 0", name=op.f("ck_cart_lines_quantity_positive")),
        sa.CheckConstraint(
            "seen_unit_price_amount >= 0", name=op.f("ck_cart_lines_seen_unit_price_not_negative")
        ),
        sa.ForeignKeyConstraint(
            ["cart_id"], ["carts.id"], name=op.f("fk_cart_lines_cart_id_carts"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_cart_lines")),
        sa.UniqueConstraint("cart_id", "product_id", name=op.f("uq_cart_lines_cart_id_product_id")),
    )


def downgrade() -> None:
    """Downgrade schema."""
    op.drop_table("cart_lines")
    op.drop_index("ix_carts_status_last_activity_at", table_name="carts")
    op.drop_index(
        "uq_carts_user_id_active",
        table_name="carts",
        postgresql_where=sa.text("status = 'ACTIVE' AND user_id IS NOT NULL"),
    )
    op.drop_table("carts")
