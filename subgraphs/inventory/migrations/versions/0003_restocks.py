"""inventory: restocks, one row per restockReturn key (a return's units back on hand, once)

Revision ID: 0003_restocks
Revises: 0002_variants
Create Date: 2026-12-06
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0003_restocks"
down_revision: str | None = "0002_variants"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "restocks",
        sa.Column("key", sa.String(length=200), nullable=False),
        sa.Column("order_id", sa.Uuid(), nullable=False),
        sa.Column("reason", sa.String(length=200), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.PrimaryKeyConstraint("key", name=op.f("pk_restocks")),
    )


def downgrade() -> None:
    op.drop_table("restocks")
