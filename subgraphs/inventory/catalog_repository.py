"""SQL for what the catalog's events say of the stock rows (events.py): each row's product and the variant's
and the product's active flags, never its units.

A statement that locks several stock rows takes them in variant id order (the lock order of service.py), so
it never deadlocks with a reservation.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import and_, case, func, or_, select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.ext.asyncio import AsyncSession

from shared.db import any_of
from subgraphs.inventory.models import StockItem


@dataclass(frozen=True, slots=True)
class CatalogState:
    """What one catalog event says of a variant: its product, and the flags it knows with their time."""

    variant_id: uuid.UUID
    product_id: uuid.UUID
    at: datetime
    variant_active: bool | None = None  # None: the event does not say
    product_active: bool | None = None


def _newer(flag: Any, flag_at: Any, value: Any, value_at: Any) -> Any:
    """`value` if it is at least as recent as what the row holds (or the row holds nothing dated), else the
    row's `flag` (a NULL `value_at`: the event does not say, keep the row's)."""
    return case((and_(value_at.is_not(None), or_(flag_at.is_(None), flag_at <= value_at)), value), else_=flag)


async def lock_product_rows(
    session: AsyncSession, product_id: uuid.UUID, variant_ids: Sequence[uuid.UUID]
) -> None:
    """Lock the rows of a product (and of `variant_ids`) in variant id order, before a statement that changes
    several of them: reservations lock theirs in that order too, so neither waits for the other in a cycle."""
    statement = (
        select(StockItem.variant_id)
        .where(
            or_(
                StockItem.product_id == product_id,
                any_of(StockItem.variant_id, "ids", variant_ids),
            )
        )
        .order_by(StockItem.variant_id)
        .with_for_update()
    )
    await session.execute(statement)


async def apply_catalog(session: AsyncSession, states: Sequence[CatalogState]) -> None:
    """Upsert the rows of `states` (a new row: nothing on hand), each flag only where the event is at least as
    recent as the one that set it; the product id always (a variant never changes product). In variant id
    order, one statement."""
    if not states:
        return
    rows = [
        {
            "variant_id": state.variant_id,
            "product_id": state.product_id,
            "on_hand": 0,
            "reserved": 0,
            "variant_active": True if state.variant_active is None else state.variant_active,
            "product_active": True if state.product_active is None else state.product_active,
            "variant_event_at": state.at if state.variant_active is not None else None,
            "product_event_at": state.at if state.product_active is not None else None,
        }
        for state in sorted(states, key=lambda state: state.variant_id)
    ]
    statement = pg_insert(StockItem).values(rows)
    new = statement.excluded
    statement = statement.on_conflict_do_update(
        index_elements=[StockItem.variant_id],
        set_={
            "product_id": new.product_id,
            "variant_active": _newer(
                StockItem.variant_active, StockItem.variant_event_at, new.variant_active, new.variant_event_at
            ),
            "variant_event_at": func.greatest(StockItem.variant_event_at, new.variant_event_at),
            "product_active": _newer(
                StockItem.product_active, StockItem.product_event_at, new.product_active, new.product_event_at
            ),
            "product_event_at": func.greatest(StockItem.product_event_at, new.product_event_at),
            "updated_at": func.now(),
        },
    )
    await session.execute(statement)


async def set_product_active(
    session: AsyncSession, product_id: uuid.UUID, active: bool, at: datetime
) -> None:
    """Every row of the product gets the product's flag, unless a more recent event set it."""
    statement = (
        update(StockItem)
        .where(
            StockItem.product_id == product_id,
            or_(StockItem.product_event_at.is_(None), StockItem.product_event_at <= at),
        )
        .values(product_active=active, product_event_at=at, updated_at=func.now())
        .execution_options(synchronize_session=False)
    )
    await session.execute(statement)
