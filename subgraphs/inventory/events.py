"""The events inventory emits, written to its outbox in the transaction of the stock change they describe."""

from __future__ import annotations

import enum

from sqlalchemy.ext.asyncio import AsyncSession

from subgraphs.inventory.models import outbox
from subgraphs.inventory.repository import StockLevel


class InventoryEvent(enum.StrEnum):
    # A product's stock row changed: {productId, available, reserved, onHand, reason}, once per product per
    # change. Analytics keeps stock levels from it.
    STOCK_CHANGED = "StockChanged"
    # A product's available units fell below the threshold: {productId, available, threshold}. Emitted on the
    # crossing only (from >= threshold to < threshold), not on every change below it.
    STOCK_LOW = "StockLow"


EMITTED: tuple[InventoryEvent, ...] = tuple(InventoryEvent)


async def stock_changed(
    session: AsyncSession, before_available: int, after: StockLevel, reason: str, *, low_threshold: int
) -> None:
    """Emit `StockChanged` for one changed stock row, and `StockLow` when it crossed the threshold."""
    await outbox.emit(
        session,
        InventoryEvent.STOCK_CHANGED,
        {
            "productId": str(after.product_id),
            "available": after.available,
            "reserved": after.reserved,
            "onHand": after.on_hand,
            # Consumers see a crossing (notifications: back in stock when it was 0) without keeping state.
            "previousAvailable": before_available,
            "reason": reason,
        },
        aggregate_id=after.product_id,
    )
    if before_available >= low_threshold > after.available:
        await outbox.emit(
            session,
            InventoryEvent.STOCK_LOW,
            {"productId": str(after.product_id), "available": after.available, "threshold": low_threshold},
            aggregate_id=after.product_id,
        )
