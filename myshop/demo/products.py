"""Demo products: `generate_products(count)` inserted into products' database idempotently (existing SKUs are
left alone)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlalchemy.ext.asyncio import AsyncSession

from myshop.demo.catalog import demo_product_id, generate_products
from subgraphs.products import repository

# 1,000 rows x 11 columns: 11,000 bind parameters, well below the 32,767 asyncpg sends in one statement.
CHUNK_SIZE = 1000


async def seed(session: AsyncSession, count: int = 300) -> list[str]:
    """Insert the first `count` demo products in multi-row INSERTs (10,000 in a few seconds); flushes only."""
    # Staggered a second apart, the first item newest: the demo's "newest first" listing follows the catalog.
    now = datetime.now(UTC)
    rows = [
        {
            "id": demo_product_id(item.sku),
            "sku": item.sku,
            "name": item.name,
            "description": item.description,
            "price_amount": item.price_amount,
            "price_currency": item.currency,
            "category": item.category,
            "tax_class": item.tax_class,
            "weight_grams": item.weight_grams,
            "created_at": now - timedelta(seconds=index),
            "updated_at": now - timedelta(seconds=index),
        }
        for index, item in enumerate(generate_products(count))
    ]
    inserted = 0
    for start in range(0, len(rows), CHUNK_SIZE):
        inserted += await repository.insert_many_skipping_existing(session, rows[start : start + CHUNK_SIZE])
    return [f"products: {inserted} demo products inserted, {len(rows) - inserted} already present"]
