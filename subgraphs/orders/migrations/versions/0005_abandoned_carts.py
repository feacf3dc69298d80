"""orders: abandoned-cart reminders (carts.abandoned_notified_at) and processed_events (UserDeleted)

Revision ID: 0005_abandoned_carts
Revises: 0004_checkout
Create Date: 2026-12-06

"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision: str = "0005_abandoned_carts"
# The checkout's 0004 goes between them at merge time.
down_revision: str | Sequence[str] | None = "0004_checkout"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column("carts", sa.Column("abandoned_notified_at", sa.DateTime(timezone=True), nullable=True))
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
    op.drop_table("processed_events")
    op.drop_column("carts", "abandoned_notified_at")
