"""shipping: zones, the countries they hold (a country in at most one zone), and their methods with rates

Revision ID: 0001_shipping
Revises:
Create Date: 2026-12-06

"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0001_shipping"
down_revision: str | Sequence[str] | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "shipping_zones",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("name", sa.String(length=100), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_shipping_zones")),
        sa.UniqueConstraint("name", name=op.f("uq_shipping_zones_name")),
    )
    op.create_table(
        "shipping_methods",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("zone_id", sa.Uuid(), nullable=False),
        sa.Column("name", sa.String(length=100), nullable=False),
        sa.Column("description", sa.Text(), nullable=False),
        sa.Column("carrier", sa.String(length=100), nullable=False),
        sa.Column("min_delivery_days", sa.Integer(), nullable=False),
        sa.Column("max_delivery_days", sa.Integer(), nullable=False),
        sa.Column("currency", sa.String(length=3), nullable=False),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.Column("rate_kind", sa.String(length=16), nullable=False),
        sa.Column("flat_amount", sa.BigInteger(), nullable=True),
        sa.Column("weight_bands", postgresql.JSONB(astext_type=sa.Text()), nullable=False),
        sa.Column("free_above_amount", sa.BigInteger(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint(
            "rate_kind <> 'FLAT' OR flat_amount IS NOT NULL", name=op.f("ck_shipping_methods_flat_has_price")
        ),
        sa.CheckConstraint(
            "rate_kind IN ('FLAT', 'WEIGHT_BANDS')", name=op.f("ck_shipping_methods_rate_kind")
        ),
        sa.CheckConstraint(
            "flat_amount IS NULL OR flat_amount >= 0", name=op.f("ck_shipping_methods_flat_amount")
        ),
        sa.CheckConstraint(
            "free_above_amount IS NULL OR free_above_amount >= 0",
            name=op.f("ck_shipping_methods_free_above_amount"),
        ),
        sa.CheckConstraint(
            "min_delivery_days >= 0 AND min_delivery_days <= max_delivery_days",
            name=op.f("ck_shipping_methods_days"),
        ),
        sa.ForeignKeyConstraint(
            ["zone_id"],
            ["shipping_zones.id"],
            name=op.f("fk_shipping_methods_zone_id_shipping_zones"),
            ondelete="RESTRICT",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_shipping_methods")),
    )
    op.create_index("ix_shipping_methods_zone_id", "shipping_methods", ["zone_id"], unique=False)
    op.create_table(
        "zone_countries",
        sa.Column("country", sa.String(length=2), nullable=False),
        sa.Column("zone_id", sa.Uuid(), nullable=False),
        sa.ForeignKeyConstraint(
            ["zone_id"],
            ["shipping_zones.id"],
            name=op.f("fk_zone_countries_zone_id_shipping_zones"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("country", name=op.f("pk_zone_countries")),
    )
    op.create_index("ix_zone_countries_zone_id", "zone_countries", ["zone_id"], unique=False)


def downgrade() -> None:
    op.drop_index("ix_zone_countries_zone_id", table_name="zone_countries")
    op.drop_table("zone_countries")
    op.drop_index("ix_shipping_methods_zone_id", table_name="shipping_methods")
    op.drop_table("shipping_methods")
    op.drop_table("shipping_zones")
