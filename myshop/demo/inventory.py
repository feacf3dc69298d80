"""Demo stock for `myshop up`: the demo products (by `myshop.demo.products`' ids) get units on hand, each in
the stock row of its single variant, which shares its id (inventory keeps stock per variant).

Deterministic: most products have 10 to 200 units, a few none and a few below the low-stock threshold, so the
demo shows every state. Products that already have a stock row are left alone. No events: this is the
warehouse as it was found, not a change.
"""

from __future__ import annotations

import random
import uuid

from sqlalchemy.ext.asyncio import AsyncSession

from myshop.demo.catalog import demo_product_id, generate_products
from myshop.demo.catalog_variants import DEMO_VARIANT_PRODUCTS
from subgraphs.inventory import repository
from subgraphs.inventory.repository import Movement
from subgraphs.inventory.settings import InventorySettings
from subgraphs.products.settings import ProductsSettings

SEED_REASON = "seed"
# 1,000 rows x 5 columns (the ledger's insert): 5,000 bind parameters, far below asyncpg's 32,767.
CHUNK_SIZE = 1000
_OUT_OF_STOCK_SHARE = 0.05
_LOW_STOCK_SHARE = 0.07


def demo_quantities(count: int, low_threshold: int, *, seed: int = 11) -> dict[uuid.UUID, int]:
    """On-hand units of the first `count` demo products, the same on every machine (only `random()` is
    drawn: its sequence is stable across Python versions)."""
    rng = random.Random(seed)
    quantities: dict[uuid.UUID, int] = {}
    for item in generate_products(count):
        draw = rng.random()
        spread = rng.random()
        low = _OUT_OF_STOCK_SHARE <= draw < _OUT_OF_STOCK_SHARE + _LOW_STOCK_SHARE
        if draw < _OUT_OF_STOCK_SHARE or (low and low_threshold <= 1):
            quantity = 0
        elif low:
            quantity = 1 + int(spread * (low_threshold - 1))  # 1 .. threshold - 1
        else:
            quantity = 10 + int(spread * 191)  # 10 .. 200
        quantities[demo_product_id(item.sku)] = quantity
    return quantities


async def seed(session: AsyncSession, count: int | None = None) -> list[str]:
    """Stock the first `count` demo products (default: as many as `myshop seed products` makes); flushes."""
    count = ProductsSettings().seed_count if count is None else count
    quantities = demo_quantities(count, InventorySettings().low_stock_threshold)
    items = list(quantities.items())
    stocked = 0
    for start in range(0, len(items), CHUNK_SIZE):
        chunk = dict(items[start : start + CHUNK_SIZE])
        created = await repository.insert_stock_skipping_existing(session, chunk)
        # The ledger explains every unit: the opening balance is a movement too (none for an empty row).
        await repository.record_movements(
            session,
            [Movement(level.variant_id, level.on_hand, 0, SEED_REASON) for level in created if level.on_hand],
        )
        stocked += len(created)
    return [f"inventory: {stocked} demo products stocked, {len(items) - stocked} already had stock"]


async def seed_variant_stock(session: AsyncSession) -> list[str]:
    """Stock the variants of the demo products sold in options (`catalog_variants.py`): a stock row per
    variant id, as inventory keeps stock; variants that already have one are left alone; flushes."""
    quantities = {variant.id: variant.quantity for item in DEMO_VARIANT_PRODUCTS for variant in item.variants}
    products = {variant.id: item.id for item in DEMO_VARIANT_PRODUCTS for variant in item.variants}
    created = await repository.insert_stock_skipping_existing(session, quantities, products)
    await repository.record_movements(
        session,
        [Movement(level.variant_id, level.on_hand, 0, SEED_REASON) for level in created if level.on_hand],
    )
    return [
        f"inventory: {len(created)} demo variants stocked, {len(quantities) - len(created)} already had stock"
    ]
