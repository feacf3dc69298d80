"""products: options, variants (every existing product gets one variant sharing its id) and media

Revision ID: 0005_variants_media
Revises: 0004_tax_class_weight
Create Date: 2026-12-06
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0005_variants_media"
down_revision: str | None = "0004_tax_class_weight"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "product_options",
        sa.Column("id", sa.Uuid(), server_default=sa.text("gen_random_uuid()"), nullable=False),
        sa.Column("product_id", sa.Uuid(), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=50), nullable=False),
        sa.Column("values", postgresql.ARRAY(sa.String(length=50)), nullable=False),
        sa.CheckConstraint('cardinality("values") >= 1', name=op.f("ck_product_options_has_values")),
        sa.ForeignKeyConstraint(
            ["product_id"],
            ["products.id"],
            name=op.f("fk_product_options_product_id_products"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_product_options")),
    )
    op.create_index(
        "uq_product_options_product_id_name",
        "product_options",
        ["product_id", sa.text("lower(name)")],
        unique=True,
    )
    op.create_table(
        "product_variants",
        sa.Column("id", sa.Uuid(), server_default=sa.text("gen_random_uuid()"), nullable=False),
        sa.Column("product_id", sa.Uuid(), nullable=False),
        sa.Column("sku", sa.String(length=64), nullable=False),
        sa.Column("price_amount", sa.BigInteger(), nullable=True),
        sa.Column("weight_grams", sa.Integer(), nullable=True),
        sa.Column(
            "option_values",
            postgresql.JSONB(astext_type=sa.Text()),
            server_default=sa.text("'{}'::jsonb"),
            nullable=False,
        ),
        sa.Column("active", sa.Boolean(), server_default=sa.text("true"), nullable=False),
        sa.Column("position", sa.Integer(), server_default=sa.text("0"), nullable=False),
        sa.Column("available_units", sa.Integer(), server_default=sa.text("0"), nullable=False),
        sa.Column("availability_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.CheckConstraint(
            "available_units >= 0", name=op.f("ck_product_variants_available_units_not_negative")
        ),
        sa.CheckConstraint(
            "price_amount IS NULL OR price_amount >= 0",
            name=op.f("ck_product_variants_price_amount_not_negative"),
        ),
        sa.CheckConstraint("sku = upper(sku)", name=op.f("ck_product_variants_sku_upper_case")),
        sa.CheckConstraint(
            "weight_grams IS NULL OR weight_grams >= 0",
            name=op.f("ck_product_variants_weight_grams_not_negative"),
        ),
        sa.ForeignKeyConstraint(
            ["product_id"],
            ["products.id"],
            name=op.f("fk_product_variants_product_id_products"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_product_variants")),
        sa.UniqueConstraint("sku", name=op.f("uq_product_variants_sku")),
    )
    op.create_index("ix_product_variants_product_id_position", "product_variants", ["product_id", "position"])
    op.create_table(
        "product_media",
        sa.Column("id", sa.Uuid(), server_default=sa.text("gen_random_uuid()"), nullable=False),
        sa.Column("product_id", sa.Uuid(), nullable=False),
        sa.Column("variant_id", sa.Uuid(), nullable=True),
        sa.Column("position", sa.Integer(), server_default=sa.text("0"), nullable=False),
        sa.Column("alt", sa.String(length=500), server_default=sa.text("''"), nullable=False),
        sa.Column("content_type", sa.String(length=50), nullable=False),
        sa.Column("width", sa.Integer(), nullable=False),
        sa.Column("height", sa.Integer(), nullable=False),
        sa.Column("byte_size", sa.BigInteger(), nullable=False),
        sa.Column("sha256", sa.String(length=64), nullable=False),
        sa.Column("storage_key", sa.String(length=200), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.CheckConstraint("byte_size > 0", name=op.f("ck_product_media_has_bytes")),
        sa.CheckConstraint("width > 0 AND height > 0", name=op.f("ck_product_media_has_size")),
        sa.ForeignKeyConstraint(
            ["product_id"],
            ["products.id"],
            name=op.f("fk_product_media_product_id_products"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["variant_id"],
            ["product_variants.id"],
            name=op.f("fk_product_media_variant_id_product_variants"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_product_media")),
    )
    op.create_index("ix_product_media_product_id_position", "product_media", ["product_id", "position"])
    # Every product so far is one thing sold: its one variant shares its id, SKU and (by inheriting: nulls)
    # its price and weight (a variant is sold while both it and its product are active), so what other
    # services keyed by the product's id is keyed by the variant's.
    op.execute(
        "INSERT INTO product_variants (id, product_id, sku, position, created_at, updated_at) "
        "SELECT id, id, sku, 0, created_at, updated_at FROM products"
    )


def downgrade() -> None:
    op.drop_index("ix_product_media_product_id_position", table_name="product_media")
    op.drop_table("product_media")
    op.drop_index("ix_product_variants_product_id_position", table_name="product_variants")
    op.drop_table("product_variants")
    op.drop_index("uq_product_options_product_id_name", table_name="product_options")
    op.drop_table("product_options")
