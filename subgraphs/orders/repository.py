"""SQL for the orders tables, nothing else: every function takes the session of the transaction it runs in."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import and_, func, or_, select, tuple_, update
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from shared.db import interval_seconds
from subgraphs.orders.models import Order, OrderItem, OrderStatusChange, SagaState, SagaStep

# --- orders ---


async def insert_order(session: AsyncSession, values: dict[str, Any]) -> Order | None:
    """The new order, or None when this user already has one with this idempotency key."""
    statement = (
        insert(Order)
        .values(**values)
        .on_conflict_do_nothing(index_elements=["user_id", "idempotency_key"])
        .returning(Order)
    )
    return (await session.scalars(statement)).one_or_none()


async def insert_items(session: AsyncSession, items: list[dict[str, Any]]) -> list[OrderItem]:
    """An order's lines, as inserted (in line order); a line without `variant_id` is of a product sold as one
    thing, whose one variant shares its id."""
    rows = [{"variant_id": item["product_id"], **item} for item in items]
    inserted = await session.scalars(insert(OrderItem).values(rows).returning(OrderItem))
    return sorted(inserted, key=lambda item: item.line)


async def get_by_key(session: AsyncSession, user_id: uuid.UUID, key: str) -> Order | None:
    statement = select(Order).where(Order.user_id == user_id, Order.idempotency_key == key)
    return (await session.scalars(statement)).one_or_none()


async def get(session: AsyncSession, order_id: uuid.UUID, *, lock: bool = False) -> Order | None:
    statement = select(Order).where(Order.id == order_id).execution_options(populate_existing=True)
    if lock:
        statement = statement.with_for_update()
    return (await session.scalars(statement)).one_or_none()


async def get_many(session: AsyncSession, ids: Sequence[uuid.UUID]) -> list[Order]:
    if not ids:
        return []
    return list((await session.scalars(select(Order).where(Order.id.in_(ids)))).all())


async def update_order(session: AsyncSession, order_id: uuid.UUID, values: dict[str, Any]) -> None:
    await session.execute(update(Order).where(Order.id == order_id).values(**values, updated_at=func.now()))


async def advance_running(
    session: AsyncSession, order_id: uuid.UUID, owner: str, values: dict[str, Any]
) -> Order | None:
    """Update a RUNNING order whose saga `owner` leases, locking its row, and return it as updated: the lock,
    the checks and the change in one statement. None (nothing changed) when it is not RUNNING or not leased
    to `owner` (any more)."""
    statement = (
        update(Order)
        .where(Order.id == order_id, Order.saga_state == SagaState.RUNNING, Order.lease_owner == owner)
        .values(**values, updated_at=func.now())
        .returning(Order)
        .execution_options(populate_existing=True)
    )
    return (await session.scalars(statement)).one_or_none()


async def items_of(session: AsyncSession, order_ids: Sequence[uuid.UUID]) -> dict[uuid.UUID, list[OrderItem]]:
    found: dict[uuid.UUID, list[OrderItem]] = {order_id: [] for order_id in order_ids}
    if order_ids:
        statement = select(OrderItem).where(OrderItem.order_id.in_(order_ids)).order_by(OrderItem.line)
        for item in await session.scalars(statement):
            found[item.order_id].append(item)
    return found


async def history_of(
    session: AsyncSession, order_ids: Sequence[uuid.UUID]
) -> dict[uuid.UUID, list[OrderStatusChange]]:
    found: dict[uuid.UUID, list[OrderStatusChange]] = {order_id: [] for order_id in order_ids}
    if order_ids:
        statement = (
            select(OrderStatusChange)
            .where(OrderStatusChange.order_id.in_(order_ids))
            .order_by(OrderStatusChange.id)
        )
        for change in await session.scalars(statement):
            found[change.order_id].append(change)
    return found


async def add_history(session: AsyncSession, order_id: uuid.UUID, status: str, reason: str | None) -> None:
    await session.execute(insert(OrderStatusChange).values(order_id=order_id, status=status, reason=reason))


# --- listings (newest first, keyset on (created_at, id)) ---


async def newest_page(
    session: AsyncSession,
    *,
    user_id: uuid.UUID | None,
    status: str | None,
    after: tuple[datetime, uuid.UUID] | None,
    limit: int,
) -> list[Order]:
    statement = select(Order)
    if user_id is not None:
        statement = statement.where(Order.user_id == user_id)
    if status is not None:
        statement = statement.where(Order.status == status)
    if after is not None:
        statement = statement.where(tuple_(Order.created_at, Order.id) < tuple_(*after))
    statement = statement.order_by(Order.created_at.desc(), Order.id.desc()).limit(limit)
    return list((await session.scalars(statement)).all())


# --- the saga's steps and leases ---


async def steps_of(session: AsyncSession, order_id: uuid.UUID) -> dict[str, SagaStep]:
    rows = await session.scalars(
        select(SagaStep).where(SagaStep.order_id == order_id).execution_options(populate_existing=True)
    )
    return {row.step: row for row in rows}


async def record_step(
    session: AsyncSession, order_id: uuid.UUID, step: str, status: str, detail: str | None, *, attempt: bool
) -> None:
    await record_steps(session, order_id, [(step, status, detail, attempt)])


async def record_steps(
    session: AsyncSession, order_id: uuid.UUID, steps: Sequence[tuple[str, str, str | None, bool]]
) -> None:
    """Record (step, status, detail, attempt) of distinct steps in one statement (a step done and the next
    one started)."""
    rows = [
        {"order_id": order_id, "step": step, "status": status, "detail": detail, "attempts": int(attempt)}
        for step, status, detail, attempt in steps
    ]
    statement = insert(SagaStep).values(rows)
    statement = statement.on_conflict_do_update(
        index_elements=["order_id", "step"],
        set_={
            "status": statement.excluded.status,
            "detail": statement.excluded.detail,
            "attempts": SagaStep.attempts + statement.excluded.attempts,
            "updated_at": func.now(),
        },
    )
    await session.execute(statement)


async def renew_leases(
    session: AsyncSession, order_ids: list[uuid.UUID], owner: str, seconds: float
) -> set[uuid.UUID]:
    """The sagas of `order_ids` still leased to `owner`, their leases extended; one whose row a step holds
    right now is skipped (SKIP LOCKED: waiting for it would hold the others' rows meanwhile)."""
    ours = (
        select(Order.id)
        .where(Order.id.in_(order_ids), Order.lease_owner == owner, Order.saga_state != SagaState.DONE)
        .with_for_update(skip_locked=True)
    )
    result = await session.execute(
        update(Order)
        .where(Order.id.in_(ours))
        .values(lease_until=func.now() + interval_seconds(seconds))
        .returning(Order.id)
        .execution_options(synchronize_session=False)
    )
    return set(result.scalars())


async def claim_abandoned(session: AsyncSession, owner: str, seconds: float, limit: int) -> list[uuid.UUID]:
    """Unfinished sagas whose lease ran out (their process died), now leased to `owner`; replicas skip
    each other's rows (SKIP LOCKED), so one saga is never taken over twice."""
    candidates = (
        select(Order.id)
        .where(
            Order.saga_state != SagaState.DONE,
            or_(Order.lease_until.is_(None), Order.lease_until < func.now()),
        )
        .order_by(Order.lease_until.nulls_first())
        .limit(limit)
        .with_for_update(skip_locked=True)
    )
    ids = list((await session.scalars(candidates)).all())
    if ids:
        await session.execute(
            update(Order)
            .where(and_(Order.id.in_(ids)))
            .values(lease_owner=owner, lease_until=func.now() + interval_seconds(seconds))
        )
    return ids
