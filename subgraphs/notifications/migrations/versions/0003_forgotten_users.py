"""notifications: deleted accounts remembered by a digest of their id, so a late event mails them nothing

Revision ID: 0003_forgotten_users
Revises: 0002_account_mails
Create Date: 2026-12-06

"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision: str = "0003_forgotten_users"
down_revision: str | Sequence[str] | None = "0002_account_mails"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    """Upgrade schema."""
    op.create_table(
        "forgotten_users",
        sa.Column("user_digest", sa.String(length=64), nullable=False),
        sa.Column(
            "forgotten_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False
        ),
        sa.PrimaryKeyConstraint("user_digest", name=op.f("pk_forgotten_users")),
    )


def downgrade() -> None:
    """Downgrade schema."""
    op.drop_table("forgotten_users")
