"""`lowStockProducts` (admin): the products an admin should restock first, those whose units available over
their sellable variants are at or below a threshold (the service's low-stock threshold unless asked), fewest
first. A product inventory holds no row of is not listed: it was never stocked, so nothing is running low."""

from __future__ import annotations

from typing import TYPE_CHECKING

from sqlalchemy import and_, func, select

from shared.errors import BadUserInput
from subgraphs.inventory.models import StockItem
from subgraphs.inventory.repository import ProductStock

if TYPE_CHECKING:
    from shared.context import Context
    from subgraphs.inventory.state import InventoryState

MAX_LOW_STOCK = 100


async def low_stock_products(context: Context, threshold: int | None, first: int) -> list[ProductStock]:
    """Products with a sellable variant whose summed `available` is <= threshold, fewest first, ties by id."""
    state: InventoryState = context.runtime.state
    limit = state.settings.low_stock_threshold if threshold is None else threshold
    if limit < 0:
        raise BadUserInput("`threshold` must be 0 or more.", field="threshold")
    if not 1 <= first <= MAX_LOW_STOCK:
        raise BadUserInput(f"`first` must be between 1 and {MAX_LOW_STOCK}.", field="first")
    sellable = and_(StockItem.variant_active, StockItem.product_active)
    on_hand = func.sum(StockItem.on_hand).filter(sellable)
    reserved = func.sum(StockItem.reserved).filter(sellable)
    statement = (
        select(
            StockItem.product_id,
            func.sum(StockItem.on_hand),
            func.sum(StockItem.reserved),
            func.bool_or(and_(sellable, StockItem.on_hand > StockItem.reserved)),
        )
        .group_by(StockItem.product_id)
        .having(func.bool_or(sellable))
        .having(on_hand - reserved <= limit)
        .order_by(on_hand - reserved, StockItem.product_id)
        .limit(first)
    )
    return [
        ProductStock(row[0], int(row[1]), int(row[2]), bool(row[3]))
        for row in await context.session.execute(statement)
    ]
