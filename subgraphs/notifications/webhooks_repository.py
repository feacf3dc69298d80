"""SQL of the webhook tables (models.py: endpoints, events, deliveries, attempts), nothing else."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import and_, delete, exists, func, or_, select, tuple_, update
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import aliased

from subgraphs.notifications.models import (
    WebhookAttempt,
    WebhookDelivery,
    WebhookDeliveryStatus,
    WebhookEndpoint,
    WebhookEvent,
    WebhookStatus,
)

PENDING, DELIVERED, DEAD = (
    WebhookDeliveryStatus.PENDING,
    WebhookDeliveryStatus.DELIVERED,
    WebhookDeliveryStatus.DEAD,
)


def _seconds(value: float) -> Any:
    return func.make_interval(0, 0, 0, 0, 0, 0, value)


# --- endpoints ---


async def lock_owner(session: AsyncSession, owner_id: uuid.UUID) -> None:
    """Serialize one owner's registrations until the transaction ends: the limit holds under races."""
    await session.execute(select(func.pg_advisory_xact_lock(func.hashtext(f"webhooks:{owner_id}"))))


async def count_endpoints(session: AsyncSession, owner_id: uuid.UUID) -> int:
    statement = select(func.count()).select_from(WebhookEndpoint).where(WebhookEndpoint.owner_id == owner_id)
    return int(await session.scalar(statement) or 0)


async def insert_endpoint(session: AsyncSession, values: dict[str, Any]) -> WebhookEndpoint:
    statement = insert(WebhookEndpoint).values(**values).returning(WebhookEndpoint)
    return (await session.scalars(statement)).one()


async def get_endpoint(
    session: AsyncSession, endpoint_id: uuid.UUID, *, lock: bool = False
) -> WebhookEndpoint | None:
    statement = select(WebhookEndpoint).where(WebhookEndpoint.id == endpoint_id)
    if lock:
        statement = statement.with_for_update()
    return (await session.scalars(statement.execution_options(populate_existing=True))).one_or_none()


async def endpoints_page(
    session: AsyncSession, owner_id: uuid.UUID | None, *, after: tuple[datetime, uuid.UUID] | None, limit: int
) -> list[WebhookEndpoint]:
    """Endpoints newest first (an owner's, or everyone's for `owner_id=None`), keyset on (created_at, id)."""
    statement = select(WebhookEndpoint)
    if owner_id is not None:
        statement = statement.where(WebhookEndpoint.owner_id == owner_id)
    if after is not None:
        statement = statement.where(tuple_(WebhookEndpoint.created_at, WebhookEndpoint.id) < tuple_(*after))
    statement = statement.order_by(WebhookEndpoint.created_at.desc(), WebhookEndpoint.id.desc()).limit(limit)
    return list((await session.scalars(statement)).all())


async def update_endpoint(
    session: AsyncSession, endpoint_id: uuid.UUID, values: dict[str, Any]
) -> WebhookEndpoint:
    statement = (
        update(WebhookEndpoint)
        .where(WebhookEndpoint.id == endpoint_id)
        .values(**values, updated_at=func.now())
        .returning(WebhookEndpoint)
        .execution_options(synchronize_session=False, populate_existing=True)
    )
    return (await session.scalars(statement)).one()


async def delete_endpoint(session: AsyncSession, endpoint_id: uuid.UUID) -> bool:
    result = await session.execute(delete(WebhookEndpoint).where(WebhookEndpoint.id == endpoint_id))
    return bool(result.rowcount)  # type: ignore[attr-defined]


async def delete_endpoints_of(session: AsyncSession, owner_id: uuid.UUID) -> int:
    """A deleted account's endpoints, with their deliveries (privacy.py)."""
    result = await session.execute(delete(WebhookEndpoint).where(WebhookEndpoint.owner_id == owner_id))
    return int(result.rowcount)  # type: ignore[attr-defined]


async def subscribed_endpoints(
    session: AsyncSession, event_type: str, occurred_at: datetime
) -> list[uuid.UUID]:
    """The endpoints that get an event: subscribed to its type (or `*`) and registered before it happened (a
    new endpoint is not sent the history). A DISABLED one too: its deliveries wait until it is enabled."""
    statement = select(WebhookEndpoint.id).where(
        WebhookEndpoint.events.overlap([event_type, "*"]),
        WebhookEndpoint.created_at <= occurred_at,
    )
    return list((await session.scalars(statement)).all())


# --- events and deliveries (the consumer) ---


async def insert_deliveries(
    session: AsyncSession,
    event: dict[str, Any],
    ordering_key: str,
    endpoint_ids: Sequence[uuid.UUID],
    *,
    first_attempt_at: datetime,
) -> int:
    """The event (once) and one PENDING delivery per endpoint, first tried at `first_attempt_at`; a delivery
    there is already stays as it is."""
    await session.execute(insert(WebhookEvent).values(**event).on_conflict_do_nothing(index_elements=["id"]))
    rows = [
        {
            "id": uuid.uuid4(),
            "endpoint_id": endpoint_id,
            "event_id": event["id"],
            "event_type": event["type"],
            "ordering_key": ordering_key,
            "occurred_at": event["occurred_at"],
            "next_attempt_at": first_attempt_at,
        }
        for endpoint_id in endpoint_ids
    ]
    statement = (
        insert(WebhookDelivery)
        .values(rows)
        .on_conflict_do_nothing(index_elements=["endpoint_id", "event_id"])
        .returning(WebhookDelivery.id)
    )
    return len((await session.scalars(statement)).all())


# --- the dispatcher ---


async def claim_due(session: AsyncSession, *, limit: int, lease_seconds: float) -> list[WebhookDelivery]:
    """Up to `limit` due PENDING deliveries of ACTIVE endpoints, each the earliest PENDING one of its
    (endpoint, ordering key), with one more attempt and leased to the caller. A leased delivery stays
    PENDING, so the next of its key is not claimable until it is DELIVERED or DEAD; replicas skip each
    other's rows (SKIP LOCKED)."""
    earlier = aliased(WebhookDelivery)
    blocked = exists().where(
        earlier.endpoint_id == WebhookDelivery.endpoint_id,
        earlier.ordering_key == WebhookDelivery.ordering_key,
        earlier.status == PENDING,
        tuple_(earlier.occurred_at, earlier.sequence)
        < tuple_(WebhookDelivery.occurred_at, WebhookDelivery.sequence),
    )
    due = (
        select(WebhookDelivery.id)
        .join(WebhookEndpoint, WebhookEndpoint.id == WebhookDelivery.endpoint_id)
        .where(
            WebhookDelivery.status == PENDING,
            WebhookDelivery.next_attempt_at <= func.now(),
            WebhookEndpoint.status == WebhookStatus.ACTIVE,
            ~blocked,
        )
        .order_by(WebhookDelivery.next_attempt_at)
        .limit(limit)
        .with_for_update(of=WebhookDelivery, skip_locked=True)
    )
    statement = (
        update(WebhookDelivery)
        .where(WebhookDelivery.id.in_(due.scalar_subquery()))
        .values(attempts=WebhookDelivery.attempts + 1, next_attempt_at=func.now() + _seconds(lease_seconds))
        .returning(WebhookDelivery)
        .execution_options(synchronize_session=False, populate_existing=True)
    )
    return list((await session.scalars(statement)).all())


async def get_events(session: AsyncSession, ids: Sequence[uuid.UUID]) -> dict[uuid.UUID, WebhookEvent]:
    rows = await session.scalars(select(WebhookEvent).where(WebhookEvent.id.in_(list(set(ids)))))
    return {row.id: row for row in rows}


async def get_endpoints(session: AsyncSession, ids: Sequence[uuid.UUID]) -> dict[uuid.UUID, WebhookEndpoint]:
    rows = await session.scalars(select(WebhookEndpoint).where(WebhookEndpoint.id.in_(list(set(ids)))))
    return {row.id: row for row in rows}


def _held(delivery: WebhookDelivery) -> Any:
    # The claim is the (id, attempts) pair: a dispatcher whose lease ran out and was replaced changes nothing.
    return and_(
        WebhookDelivery.id == delivery.id,
        WebhookDelivery.attempts == delivery.attempts,
        WebhookDelivery.status == PENDING,
    )


async def record_attempt(
    session: AsyncSession,
    delivery: WebhookDelivery,
    *,
    response_status: int | None,
    error: str | None,
    duration_ms: int,
    outcome: WebhookDeliveryStatus,
    retry_in: float,
) -> bool:
    """The try's row and the delivery's new state (DELIVERED, DEAD, or PENDING again after `retry_in` s);
    False when the claim was lost (nothing written)."""
    values: dict[str, Any] = {"status": outcome, "last_response_status": response_status, "last_error": error}
    if outcome == DELIVERED:
        values["delivered_at"] = func.now()
    elif outcome == DEAD:
        values["dead_at"] = func.now()
    else:
        values["next_attempt_at"] = func.now() + _seconds(retry_in)
    result = await session.execute(update(WebhookDelivery).where(_held(delivery)).values(**values))
    if not result.rowcount:  # type: ignore[attr-defined]
        return False
    await session.execute(
        insert(WebhookAttempt).values(
            delivery_id=delivery.id,
            attempt=delivery.attempts,
            response_status=response_status,
            error=error,
            duration_ms=duration_ms,
        )
    )
    return True


async def release(session: AsyncSession, deliveries: Sequence[WebhookDelivery]) -> None:
    """Give back claimed deliveries that were not tried (the dispatcher stops): due now, attempt undone."""
    for delivery in deliveries:
        await session.execute(
            update(WebhookDelivery)
            .where(_held(delivery))
            .values(attempts=WebhookDelivery.attempts - 1, next_attempt_at=func.now())
        )


async def endpoint_succeeded(session: AsyncSession, endpoint_id: uuid.UUID) -> None:
    await session.execute(
        update(WebhookEndpoint)
        .where(
            WebhookEndpoint.id == endpoint_id,
            or_(WebhookEndpoint.dead_in_a_row > 0, WebhookEndpoint.failing_since.is_not(None)),
        )
        .values(dead_in_a_row=0, failing_since=None)
    )


async def endpoint_failed(
    session: AsyncSession,
    endpoint_id: uuid.UUID,
    *,
    dead: bool,
    disable_after_dead: int,
    disable_after_seconds: float,
) -> WebhookEndpoint | None:
    """Count a failed try (and a DEAD delivery); DISABLE the endpoint past either limit. The endpoint when
    this disabled it, else None."""
    endpoint = await get_endpoint(session, endpoint_id, lock=True)
    if endpoint is None or endpoint.status != WebhookStatus.ACTIVE:
        return None
    now = await session.scalar(select(func.now()))
    assert now is not None
    failing_since = endpoint.failing_since or now
    dead_in_a_row = endpoint.dead_in_a_row + (1 if dead else 0)
    values: dict[str, Any] = {"failing_since": failing_since, "dead_in_a_row": dead_in_a_row}
    reason = None
    if dead_in_a_row >= disable_after_dead:
        reason = f"{dead_in_a_row} deliveries in a row failed every try"
    elif now - failing_since >= timedelta(seconds=disable_after_seconds):
        reason = f"every try failed since {failing_since.isoformat(timespec='seconds')}"
    if reason is not None:
        values |= {
            "status": WebhookStatus.DISABLED,
            "disabled_at": now,
            "disabled_reason": reason,
            "owner_notified": False,
        }
    await session.execute(update(WebhookEndpoint).where(WebhookEndpoint.id == endpoint_id).values(**values))
    if reason is None:
        return None
    return await get_endpoint(session, endpoint_id)


async def claim_unnotified(session: AsyncSession, limit: int) -> list[WebhookEndpoint]:
    """DISABLED endpoints whose owner is not told yet, locked (SKIP LOCKED) for the caller's transaction."""
    statement = (
        select(WebhookEndpoint)
        .where(WebhookEndpoint.status == WebhookStatus.DISABLED, WebhookEndpoint.owner_notified.is_(False))
        .limit(limit)
        .with_for_update(skip_locked=True)
    )
    return list((await session.scalars(statement)).all())


async def mark_notified(session: AsyncSession, endpoint_id: uuid.UUID) -> None:
    await session.execute(
        update(WebhookEndpoint).where(WebhookEndpoint.id == endpoint_id).values(owner_notified=True)
    )


# --- deliveries (the API) ---


async def deliveries_page(
    session: AsyncSession,
    endpoint_id: uuid.UUID,
    status: str | None,
    *,
    after: tuple[datetime, uuid.UUID] | None,
    limit: int,
) -> list[WebhookDelivery]:
    """An endpoint's deliveries newest first, keyset on (created_at, id)."""
    statement = select(WebhookDelivery).where(WebhookDelivery.endpoint_id == endpoint_id)
    if status is not None:
        statement = statement.where(WebhookDelivery.status == status)
    if after is not None:
        statement = statement.where(tuple_(WebhookDelivery.created_at, WebhookDelivery.id) < tuple_(*after))
    statement = statement.order_by(WebhookDelivery.created_at.desc(), WebhookDelivery.id.desc()).limit(limit)
    return list((await session.scalars(statement)).all())


async def attempts_of(
    session: AsyncSession, ids: Sequence[uuid.UUID]
) -> dict[uuid.UUID, list[WebhookAttempt]]:
    found: dict[uuid.UUID, list[WebhookAttempt]] = {delivery_id: [] for delivery_id in ids}
    if not ids:
        return found
    statement = (
        select(WebhookAttempt)
        .where(WebhookAttempt.delivery_id.in_(list(ids)))
        .order_by(WebhookAttempt.delivery_id, WebhookAttempt.attempt, WebhookAttempt.id)
    )
    for row in await session.scalars(statement):
        found[row.delivery_id].append(row)
    return found


async def get_delivery(session: AsyncSession, delivery_id: uuid.UUID) -> WebhookDelivery | None:
    statement = select(WebhookDelivery).where(WebhookDelivery.id == delivery_id)
    return (await session.scalars(statement.execution_options(populate_existing=True))).one_or_none()


async def due_now(session: AsyncSession, endpoint_id: uuid.UUID) -> None:
    """An enabled endpoint's waiting deliveries are due at once (not after the backoff they were in)."""
    await session.execute(
        update(WebhookDelivery)
        .where(
            WebhookDelivery.endpoint_id == endpoint_id,
            WebhookDelivery.status == PENDING,
            WebhookDelivery.next_attempt_at > func.now(),
        )
        .values(next_attempt_at=func.now())
    )


def _replay(*conditions: Any) -> Any:
    return (
        update(WebhookDelivery)
        .where(WebhookDelivery.status == DEAD, *conditions)
        .values(status=PENDING, attempts=0, next_attempt_at=func.now(), dead_at=None)
        .execution_options(synchronize_session=False)
    )


async def replay_dead(session: AsyncSession, endpoint_id: uuid.UUID) -> int:
    result = await session.execute(_replay(WebhookDelivery.endpoint_id == endpoint_id))
    return int(result.rowcount)  # type: ignore[attr-defined]


async def replay_one(session: AsyncSession, delivery_id: uuid.UUID) -> WebhookDelivery | None:
    statement = (
        _replay(WebhookDelivery.id == delivery_id)
        .returning(WebhookDelivery)
        .execution_options(populate_existing=True)
    )
    return (await session.scalars(statement)).one_or_none()


async def prune(session: AsyncSession, *, older_than_hours: int, limit: int) -> int:
    """Delete up to `limit` deliveries that ended (DELIVERED or DEAD) more than `older_than_hours` ago (their
    tries go with them), then the events no delivery refers to; how many deliveries went."""
    cutoff = func.now() - func.make_interval(0, 0, 0, 0, older_than_hours)
    ended = (
        select(WebhookDelivery.id)
        .where(
            or_(
                and_(WebhookDelivery.status == DELIVERED, WebhookDelivery.delivered_at < cutoff),
                and_(WebhookDelivery.status == DEAD, WebhookDelivery.dead_at < cutoff),
            )
        )
        .limit(limit)
    )
    result = await session.execute(
        delete(WebhookDelivery).where(WebhookDelivery.id.in_(ended.scalar_subquery()))
    )
    pruned = int(result.rowcount)  # type: ignore[attr-defined]
    if pruned:
        referred = exists().where(WebhookDelivery.event_id == WebhookEvent.id)
        await session.execute(delete(WebhookEvent).where(WebhookEvent.occurred_at < cutoff, ~referred))
    return pruned
