"""orders: tax rates, promotions and vouchers, and their uses

Revision ID: 0003_pricing
Revises: 0002_carts
Create Date: 2026-12-06

"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

# revision identifiers, used by Alembic.
revision: str = "0003_pricing"
down_revision: str | Sequence[str] | None = "0002_carts"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "tax_rates",
        sa.Column("country", sa.String(length=2), nullable=False),
        sa.Column("tax_class", sa.String(length=32), nullable=False),
        sa.Column("rate_bp", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=64), server_default=sa.text("''"), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.CheckConstraint("rate_bp >= 0 AND rate_bp <= 10000", name=op.f("ck_tax_rates_rate_bp_range")),
        sa.PrimaryKeyConstraint("country", "tax_class", name=op.f("pk_tax_rates")),
    )
    op.create_table(
        "promotions",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("name", sa.String(length=100), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("value", sa.BigInteger(), nullable=False),
        sa.Column("currency", sa.String(length=3), nullable=True),
        sa.Column("scope", sa.String(length=16), server_default=sa.text("'ALL'"), nullable=False),
        sa.Column(
            "product_ids",
            postgresql.ARRAY(sa.String(length=64)),
            server_default=sa.text("'{}'"),
            nullable=False,
        ),
        sa.Column(
            "categories",
            postgresql.ARRAY(sa.String(length=100)),
            server_default=sa.text("'{}'"),
            nullable=False,
        ),
        sa.Column("minimum_subtotal", sa.BigInteger(), nullable=True),
        sa.Column("starts_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("ends_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("code", sa.String(length=64), nullable=True),
        sa.Column("usage_limit", sa.Integer(), nullable=True),
        sa.Column("per_customer_limit", sa.Integer(), nullable=True),
        sa.Column("used_count", sa.Integer(), server_default=sa.text("0"), nullable=False),
        sa.Column("active", sa.Boolean(), server_default=sa.text("true"), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.CheckConstraint(
            "kind IN ('PERCENTAGE', 'FIXED_AMOUNT', 'FREE_SHIPPING')", name=op.f("ck_promotions_kind_known")
        ),
        sa.CheckConstraint(
            "scope IN ('ALL', 'CATEGORIES', 'PRODUCTS')", name=op.f("ck_promotions_scope_known")
        ),
        sa.CheckConstraint("value >= 0", name=op.f("ck_promotions_value_not_negative")),
        sa.CheckConstraint("used_count >= 0", name=op.f("ck_promotions_used_count_not_negative")),
        sa.CheckConstraint(
            "usage_limit IS NULL OR used_count <= usage_limit", name=op.f("ck_promotions_used_within_limit")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_promotions")),
    )
    # Voucher codes are unique whatever their case (`SUMMER10` and `summer10` are one code).
    op.create_index("uq_promotions_code_lower", "promotions", [sa.text("lower(code)")], unique=True)
    op.create_table(
        "promotion_uses",
        sa.Column("id", sa.BigInteger(), autoincrement=True, nullable=False),
        sa.Column("promotion_id", sa.Uuid(), nullable=False),
        sa.Column("order_id", sa.Uuid(), nullable=False),
        sa.Column("user_id", sa.Uuid(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.ForeignKeyConstraint(
            ["promotion_id"],
            ["promotions.id"],
            name=op.f("fk_promotion_uses_promotion_id_promotions"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_promotion_uses")),
        sa.UniqueConstraint("promotion_id", "order_id", name=op.f("uq_promotion_uses_promotion_id_order_id")),
    )
    op.create_index(
        "ix_promotion_uses_promotion_id_user_id", "promotion_uses", ["promotion_id", "user_id"], unique=False
    )


def downgrade() -> None:
    op.drop_index("ix_promotion_uses_promotion_id_user_id", table_name="promotion_uses")
    op.drop_table("promotion_uses")
    op.drop_index("uq_promotions_code_lower", table_name="promotions")
    op.drop_table("promotions")
    op.drop_table("tax_rates")
