"""SQL for orders' copy of shipping's shipments (`order_shipments`), nothing else."""

from __future__ import annotations

import uuid
from typing import Any

from sqlalchemy import select
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from subgraphs.orders.models import OrderShipment


async def upsert_shipment(session: AsyncSession, values: dict[str, Any]) -> bool:
    """Insert or update the copy of shipment `values["shipment_id"]`; False (nothing written) when the copy
    holds a newer event than `values["event_at"]` (events of one shipment may arrive out of order)."""
    statement = insert(OrderShipment).values(**values)
    statement = statement.on_conflict_do_update(
        index_elements=["shipment_id"],
        set_={name: statement.excluded[name] for name in values if name != "shipment_id"},
        where=OrderShipment.event_at <= statement.excluded.event_at,
    ).returning(OrderShipment.shipment_id)
    return (await session.execute(statement)).first() is not None


async def shipments_of(session: AsyncSession, order_id: uuid.UUID) -> list[OrderShipment]:
    statement = (
        select(OrderShipment)
        .where(OrderShipment.order_id == order_id)
        .order_by(OrderShipment.shipped_at.nulls_last(), OrderShipment.shipment_id)
        .execution_options(populate_existing=True)
    )
    return list((await session.scalars(statement)).all())
