"""users: the address book (addresses, at most one default shipping and one default billing per user)

Revision ID: 0003_addresses
Revises: 0002_outbox
Create Date: 2026-12-06
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0003_addresses"
down_revision: str | None = "0002_outbox"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "addresses",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("user_id", sa.Uuid(), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("company", sa.String(length=200), nullable=False),
        sa.Column("line1", sa.String(length=200), nullable=False),
        sa.Column("line2", sa.String(length=200), nullable=False),
        sa.Column("city", sa.String(length=100), nullable=False),
        sa.Column("postal_code", sa.String(length=20), nullable=False),
        sa.Column("region", sa.String(length=100), nullable=False),
        sa.Column("country", sa.String(length=2), nullable=False),
        sa.Column("phone", sa.String(length=40), nullable=False),
        sa.Column("is_default_shipping", sa.Boolean(), nullable=False),
        sa.Column("is_default_billing", sa.Boolean(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["user_id"], ["users.id"], name=op.f("fk_addresses_user_id_users"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_addresses")),
    )
    op.create_index("ix_addresses_user_id_created_at", "addresses", ["user_id", "created_at"])
    op.create_index(
        "uq_addresses_default_shipping",
        "addresses",
        ["user_id"],
        unique=True,
        postgresql_where=sa.text("is_default_shipping"),
    )
    op.create_index(
        "uq_addresses_default_billing",
        "addresses",
        ["user_id"],
        unique=True,
        postgresql_where=sa.text("is_default_billing"),
    )


def downgrade() -> None:
    op.drop_index("uq_addresses_default_billing", table_name="addresses")
    op.drop_index("uq_addresses_default_shipping", table_name="addresses")
    op.drop_index("ix_addresses_user_id_created_at", table_name="addresses")
    op.drop_table("addresses")
