"""SQL for the notifications tables, nothing else: every function takes the session of its transaction."""

from __future__ import annotations

import hashlib
import uuid
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import delete, func, select, tuple_, update
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from shared.db import interval_seconds
from subgraphs.notifications.models import ForgottenUser, Notification, NotificationStatus, ProductWatch

# --- notifications written by the event handlers ---


async def insert_notifications(session: AsyncSession, rows: Sequence[dict[str, Any]]) -> int:
    """Insert the rows; one that exists (same event, user and kind) is skipped. How many were new."""
    inserted = 0
    # asyncpg sends at most 32,767 parameters per statement: 16 columns x 1,000 rows stays below it.
    for start in range(0, len(rows), 1000):
        statement = (
            insert(Notification)
            .values(list(rows[start : start + 1000]))
            .on_conflict_do_nothing(index_elements=["event_id", "user_id", "kind"])
            .returning(Notification.id)
        )
        inserted += len((await session.scalars(statement)).all())
    return inserted


async def lock_product_alerts(session: AsyncSession, product_id: uuid.UUID) -> None:
    """Serialize the watch mails about one product until the transaction ends: two consumers handling two
    events of it at once would both pass the cooldown check otherwise."""
    key = int.from_bytes(product_id.bytes[:8], "big", signed=True)
    await session.execute(select(func.pg_advisory_xact_lock(key)))


async def lock_user_mails(session: AsyncSession, user_id: uuid.UUID) -> None:
    """Serialize one user's throttled mails until the transaction ends (as `lock_product_alerts` does for a
    product; a key shared by chance with a product only makes one wait for the other)."""
    key = int.from_bytes(user_id.bytes[8:], "big", signed=True)
    await session.execute(select(func.pg_advisory_xact_lock(key)))


async def mailed_since(session: AsyncSession, user_id: uuid.UUID, kind: str, within_seconds: float) -> bool:
    """Whether the user got a `kind` mail in the last `within_seconds`."""
    if within_seconds <= 0:
        return False
    statement = select(Notification.id).where(
        Notification.user_id == user_id,
        Notification.kind == kind,
        Notification.created_at > func.now() - interval_seconds(within_seconds),
    )
    return (await session.scalars(statement.limit(1))).first() is not None


async def recently_notified(
    session: AsyncSession, product_id: uuid.UUID, kind: str, within_seconds: float
) -> set[uuid.UUID]:
    """The users who got a `kind` mail about the product in the last `within_seconds`."""
    if within_seconds <= 0:
        return set()
    statement = select(Notification.user_id).where(
        Notification.product_id == product_id,
        Notification.kind == kind,
        Notification.created_at > func.now() - interval_seconds(within_seconds),
    )
    return set((await session.scalars(statement)).all())


# --- reading ---


async def get_notifications(session: AsyncSession, ids: Sequence[uuid.UUID]) -> list[Notification]:
    if not ids:
        return []
    return list((await session.scalars(select(Notification).where(Notification.id.in_(ids)))).all())


async def notifications_page(
    session: AsyncSession, user_id: uuid.UUID, *, after: tuple[datetime, uuid.UUID] | None, limit: int
) -> list[Notification]:
    """A user's notifications, newest first, keyset on (created_at, id)."""
    statement = select(Notification).where(Notification.user_id == user_id)
    if after is not None:
        statement = statement.where(tuple_(Notification.created_at, Notification.id) < tuple_(*after))
    statement = statement.order_by(Notification.created_at.desc(), Notification.id.desc()).limit(limit)
    return list((await session.scalars(statement)).all())


# --- the sender ---


async def claim_due(session: AsyncSession, *, limit: int, lease_seconds: float) -> list[Notification]:
    """Up to `limit` due PENDING notifications, each with one more attempt and leased to the caller until
    the lease ends (`next_attempt_at`). Concurrent senders skip each other's rows (SKIP LOCKED), and a leased
    row is not due, so no two senders hold one notification."""
    due = (
        select(Notification.id)
        .where(Notification.status == NotificationStatus.PENDING, Notification.next_attempt_at <= func.now())
        .order_by(Notification.next_attempt_at)
        .limit(limit)
        .with_for_update(skip_locked=True)
    )
    statement = (
        update(Notification)
        .where(Notification.id.in_(due.scalar_subquery()))
        .values(
            attempts=Notification.attempts + 1, next_attempt_at=func.now() + interval_seconds(lease_seconds)
        )
        .returning(Notification)
        .execution_options(synchronize_session=False)
    )
    claimed = list((await session.scalars(statement)).all())
    return sorted(claimed, key=lambda row: (row.next_attempt_at, row.created_at))


def _held(notification_id: uuid.UUID, attempt: int) -> Any:
    # The claim is the (id, attempts) pair: a sender whose lease ran out and was replaced changes nothing.
    return (
        Notification.id == notification_id,
        Notification.attempts == attempt,
        Notification.status == NotificationStatus.PENDING,
    )


async def mark_sent(session: AsyncSession, notification_id: uuid.UUID, attempt: int) -> bool:
    result = await session.execute(
        update(Notification)
        .where(*_held(notification_id, attempt))
        # The sealed token goes with the send: it was for this mail only.
        .values(status=NotificationStatus.SENT, sent_at=func.now(), failure_reason=None, sealed_token=None)
    )
    return bool(result.rowcount)  # type: ignore[attr-defined]


async def mark_retry(
    session: AsyncSession, notification_id: uuid.UUID, attempt: int, *, delay_seconds: float, reason: str
) -> bool:
    result = await session.execute(
        update(Notification)
        .where(*_held(notification_id, attempt))
        .values(next_attempt_at=func.now() + interval_seconds(delay_seconds), failure_reason=reason)
    )
    return bool(result.rowcount)  # type: ignore[attr-defined]


async def mark_failed(session: AsyncSession, notification_id: uuid.UUID, attempt: int, reason: str) -> bool:
    result = await session.execute(
        update(Notification)
        .where(*_held(notification_id, attempt))
        .values(status=NotificationStatus.FAILED, failure_reason=reason, sealed_token=None)
    )
    return bool(result.rowcount)  # type: ignore[attr-defined]


async def release(session: AsyncSession, claims: Sequence[tuple[uuid.UUID, int]]) -> None:
    """Give back claimed notifications that were not tried (the sender stops): due now, attempt undone."""
    for notification_id, attempt in claims:
        await session.execute(
            update(Notification)
            .where(*_held(notification_id, attempt))
            .values(attempts=Notification.attempts - 1, next_attempt_at=func.now())
        )


async def resend(session: AsyncSession, notification_id: uuid.UUID) -> Notification | None:
    """A FAILED notification back to PENDING with fresh attempts; None when it is not FAILED or carried a
    token (forgotten when it failed: the user asks for a new one)."""
    statement = (
        update(Notification)
        .where(
            Notification.id == notification_id,
            Notification.status == NotificationStatus.FAILED,
            Notification.token_purpose.is_(None),
        )
        .values(status=NotificationStatus.PENDING, attempts=0, next_attempt_at=func.now())
        .returning(Notification)
        .execution_options(synchronize_session=False)
    )
    return (await session.scalars(statement)).one_or_none()


def user_digest(user_id: uuid.UUID | str) -> str:
    return hashlib.sha256(str(user_id).encode()).hexdigest()


async def forgotten_among(session: AsyncSession, user_ids: Sequence[str]) -> set[str]:
    """Which of `user_ids` belong to deleted accounts."""
    if not user_ids:
        return set()
    by_digest = {user_digest(user_id): user_id for user_id in user_ids}
    found = await session.scalars(
        select(ForgottenUser.user_digest).where(ForgottenUser.user_digest.in_(list(by_digest)))
    )
    return {by_digest[digest] for digest in found}


async def erase_user(session: AsyncSession, user_id: uuid.UUID) -> tuple[int, int]:
    """Delete a user's notifications and watches and remember the account as deleted (under the user's mail
    lock, so a mail being written for them at that moment either is deleted here or sees the tombstone);
    how many mails and watches went."""
    await lock_user_mails(session, user_id)
    await session.execute(
        insert(ForgottenUser).values(user_digest=user_digest(user_id)).on_conflict_do_nothing()
    )
    mails = await session.execute(delete(Notification).where(Notification.user_id == user_id))
    watches = await session.execute(delete(ProductWatch).where(ProductWatch.user_id == user_id))
    return mails.rowcount, watches.rowcount  # type: ignore[attr-defined]


# --- watches ---


async def watchers_of(session: AsyncSession, product_id: uuid.UUID, *, as_of: datetime) -> list[uuid.UUID]:
    """The users who watched the product at `as_of` (a change is news to those watching when it happened)."""
    statement = (
        select(ProductWatch.user_id)
        .where(ProductWatch.product_id == product_id, ProductWatch.created_at <= as_of)
        .order_by(ProductWatch.user_id)
    )
    return list((await session.scalars(statement)).all())


async def get_watch(session: AsyncSession, user_id: uuid.UUID, product_id: uuid.UUID) -> ProductWatch | None:
    statement = select(ProductWatch).where(
        ProductWatch.user_id == user_id, ProductWatch.product_id == product_id
    )
    return (await session.scalars(statement)).one_or_none()


async def insert_watch(
    session: AsyncSession, user_id: uuid.UUID, product_id: uuid.UUID
) -> ProductWatch | None:
    """The new watch, or None when the user already watches the product."""
    statement = (
        insert(ProductWatch)
        .values(user_id=user_id, product_id=product_id)
        .on_conflict_do_nothing(index_elements=["user_id", "product_id"])
        .returning(ProductWatch)
    )
    return (await session.scalars(statement)).one_or_none()


async def count_watches(session: AsyncSession, user_id: uuid.UUID) -> int:
    statement = select(func.count()).select_from(ProductWatch).where(ProductWatch.user_id == user_id)
    return int(await session.scalar(statement) or 0)


async def delete_watch(session: AsyncSession, user_id: uuid.UUID, product_id: uuid.UUID) -> bool:
    result = await session.execute(
        delete(ProductWatch).where(ProductWatch.user_id == user_id, ProductWatch.product_id == product_id)
    )
    return bool(result.rowcount)  # type: ignore[attr-defined]


async def watches_page(
    session: AsyncSession, user_id: uuid.UUID, *, after: tuple[datetime, uuid.UUID] | None, limit: int
) -> list[ProductWatch]:
    """A user's watches, newest first, keyset on (created_at, product_id)."""
    statement = select(ProductWatch).where(ProductWatch.user_id == user_id)
    if after is not None:
        statement = statement.where(tuple_(ProductWatch.created_at, ProductWatch.product_id) < tuple_(*after))
    statement = statement.order_by(ProductWatch.created_at.desc(), ProductWatch.product_id.desc()).limit(
        limit
    )
    return list((await session.scalars(statement)).all())
