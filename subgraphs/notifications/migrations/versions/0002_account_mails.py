"""notifications: the account's mails carry a one-time token sealed until they are sent

Revision ID: 0002_account_mails
Revises: 0001_notifications
Create Date: 2026-12-06

"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision: str = "0002_account_mails"
down_revision: str | Sequence[str] | None = "0001_notifications"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    """Upgrade schema."""
    op.add_column("notifications", sa.Column("token_purpose", sa.String(length=32), nullable=True))
    op.add_column("notifications", sa.Column("sealed_token", sa.Text(), nullable=True))
    op.add_column("notifications", sa.Column("token_expires_at", sa.DateTime(timezone=True), nullable=True))
    op.create_check_constraint(
        op.f("ck_notifications_sealed_token_only_while_pending"),
        "notifications",
        "sealed_token IS NULL OR status = 'PENDING'",
    )


def downgrade() -> None:
    """Downgrade schema."""
    op.drop_constraint(
        op.f("ck_notifications_sealed_token_only_while_pending"), "notifications", type_="check"
    )
    op.drop_column("notifications", "token_expires_at")
    op.drop_column("notifications", "sealed_token")
    op.drop_column("notifications", "token_purpose")
