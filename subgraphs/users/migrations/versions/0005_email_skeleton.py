"""users: email_skeleton (UTS #39 skeleton of the case-folded email), unique: one account per look-alike

Existing rows get their skeleton here. Where rows already collide (admin@ and a full-width admin@ both
registered before this revision), the oldest keeps it and the newer ones stay NULL: they still sign in and
keep their address, and the log says how many were left so an operator can look at them.

Revision ID: 0005_email_skeleton
Revises: 0004_account_tokens
Create Date: 2026-12-06
"""

import logging
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from subgraphs.users.emails import skeleton

revision: str = "0005_email_skeleton"
down_revision: str | None = "0004_account_tokens"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

logger = logging.getLogger("alembic.runtime.migration")
BATCH = 1000

users = sa.table(
    "users",
    sa.column("id", sa.Uuid()),
    sa.column("email", sa.String()),
    sa.column("email_skeleton", sa.Text()),
    sa.column("created_at", sa.DateTime(timezone=True)),
)


def upgrade() -> None:
    op.add_column("users", sa.Column("email_skeleton", sa.Text(), nullable=True))
    connection = op.get_bind()
    taken: set[str] = set()
    updates: list[dict[str, object]] = []
    left_null = 0
    # Oldest first, so the first holder of a skeleton keeps it.
    rows = connection.execute(sa.select(users.c.id, users.c.email).order_by(users.c.created_at, users.c.id))
    for user_id, email in rows:
        value = skeleton(email)
        if value in taken:
            left_null += 1
            continue
        taken.add(value)
        updates.append({"user_id": user_id, "value": value})
    statement = (
        sa.update(users)
        .where(users.c.id == sa.bindparam("user_id"))
        .values(email_skeleton=sa.bindparam("value"))
    )
    for start in range(0, len(updates), BATCH):
        connection.execute(statement, updates[start : start + BATCH])
    if left_null:
        logger.warning(
            "users.email_skeleton: %d account(s) look like an older account's address; left NULL", left_null
        )
    op.create_index("uq_users_email_skeleton", "users", ["email_skeleton"], unique=True)


def downgrade() -> None:
    op.drop_index("uq_users_email_skeleton", table_name="users")
    op.drop_column("users", "email_skeleton")
