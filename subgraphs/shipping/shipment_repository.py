"""SQL for shipments and the orders they ship (`fulfillment_orders`), nothing else."""

from __future__ import annotations

import uuid
from collections.abc import Collection, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import func, select, tuple_
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from subgraphs.shipping.models import FulfillmentOrder, Shipment, ShipmentStatus


def order_lock_key(order_id: uuid.UUID) -> int:
    """The advisory lock of one order: its id's first 8 bytes as a signed bigint (two orders sharing one
    only wait for each other)."""
    return int.from_bytes(order_id.bytes[:8], "big", signed=True)


async def lock_order(session: AsyncSession, order_id: uuid.UUID) -> None:
    """Hold the order until the transaction ends: every change of its shipments takes this first, so they
    happen one at a time per order. An advisory lock, not the `fulfillment_orders` row's: the first shipment
    of an order has no committed row yet, and a row another transaction is inserting is invisible to
    `FOR UPDATE` (it would not wait), while `OrderCancelled`'s handler must wait for a shipment being made."""
    await session.execute(select(func.pg_advisory_xact_lock(order_lock_key(order_id))))


async def get_fulfillment_order(session: AsyncSession, order_id: uuid.UUID) -> FulfillmentOrder | None:
    return await session.get(FulfillmentOrder, order_id)


async def fulfillment_orders(
    session: AsyncSession, order_ids: Collection[uuid.UUID]
) -> Sequence[FulfillmentOrder]:
    query = select(FulfillmentOrder).where(FulfillmentOrder.order_id.in_(order_ids))
    return (await session.scalars(query)).all()


async def keep_fulfillment_order(session: AsyncSession, values: dict[str, Any]) -> FulfillmentOrder:
    """The order's snapshot: inserted at its first shipment, kept as it was after (lines never change)."""
    await session.execute(insert(FulfillmentOrder).values(**values).on_conflict_do_nothing())
    row = await session.get(FulfillmentOrder, values["order_id"], populate_existing=True)
    assert row is not None  # inserted now or before
    return row


async def shipments_of_orders(
    session: AsyncSession, order_ids: Collection[uuid.UUID], *, for_update: bool = False
) -> Sequence[Shipment]:
    """Their shipments, oldest first."""
    query = select(Shipment).where(Shipment.order_id.in_(order_ids))
    if for_update:
        query = query.with_for_update().execution_options(populate_existing=True)
    return (await session.scalars(query.order_by(Shipment.created_at, Shipment.id))).all()


async def get_shipments(session: AsyncSession, shipment_ids: Collection[uuid.UUID]) -> Sequence[Shipment]:
    return (await session.scalars(select(Shipment).where(Shipment.id.in_(shipment_ids)))).all()


async def get_shipment(
    session: AsyncSession, shipment_id: uuid.UUID, *, for_update: bool = False
) -> Shipment | None:
    query = select(Shipment).where(Shipment.id == shipment_id)
    if for_update:
        query = query.with_for_update().execution_options(populate_existing=True)
    return (await session.scalars(query)).one_or_none()


async def shipment_by_key(session: AsyncSession, created_by: uuid.UUID, key: str) -> Shipment | None:
    query = select(Shipment).where(Shipment.created_by == created_by, Shipment.idempotency_key == key)
    return (await session.scalars(query)).one_or_none()


async def newest_shipments(
    session: AsyncSession, *, status: str | None, after: tuple[datetime, uuid.UUID] | None, limit: int
) -> list[Shipment]:
    query = select(Shipment)
    if status is not None:
        query = query.where(Shipment.status == status)
    if after is not None:
        query = query.where(tuple_(Shipment.created_at, Shipment.id) < tuple_(*after))
    query = query.order_by(Shipment.created_at.desc(), Shipment.id.desc()).limit(limit)
    return list((await session.scalars(query)).all())


async def pending_shipments_of_order(session: AsyncSession, order_id: uuid.UUID) -> Sequence[Shipment]:
    query = (
        select(Shipment)
        .where(Shipment.order_id == order_id, Shipment.status == ShipmentStatus.PENDING)
        .order_by(Shipment.created_at, Shipment.id)
        .with_for_update()
        .execution_options(populate_existing=True)
    )
    return (await session.scalars(query)).all()
