"""Demo products: `generate_products(count)` inserted into products' database idempotently (existing SKUs are
left alone), the first ones with a generated image (images.py)."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from myshop.demo.catalog import CatalogItem, demo_product_id, generate_products
from myshop.demo.catalog_variants import DemoVariantProduct
from myshop.demo.images import seed_images
from subgraphs.products import repository
from subgraphs.products.media import storage_of
from subgraphs.products.media_storage import Storage
from subgraphs.products.settings import ProductsSettings

# The first products of the listing (its first pages) get a drawn image: ~50 ms each, so a seed of 10,000
# products (the search benchmark's) does not spend minutes drawing.
DEMO_IMAGES = 24
# 1,000 rows x 11 columns: 11,000 bind parameters, well below the 32,767 asyncpg sends in one statement.
CHUNK_SIZE = 1000


def product_row(
    product_id: uuid.UUID, item: CatalogItem | DemoVariantProduct, created_at: datetime
) -> dict[str, Any]:
    """The `products` row of a demo item, generated or sold in options."""
    return {
        "id": product_id,
        "sku": item.sku,
        "name": item.name,
        "description": item.description,
        "price_amount": item.price_amount,
        "price_currency": item.currency,
        "category": item.category,
        "tax_class": item.tax_class,
        "weight_grams": item.weight_grams,
        "created_at": created_at,
        "updated_at": created_at,
    }


async def seed(
    session: AsyncSession, count: int = 300, *, images: int = 0, storage: Storage | None = None
) -> list[str]:
    """Insert the first `count` demo products in multi-row INSERTs (10,000 in a few seconds), and a generated
    image for each of the first `images` (the storage: the products service's, as its settings say); flushes
    only (an image's files are written at once: a rollback leaves files no row names, never served)."""
    items = generate_products(count)
    # Staggered a second apart, the first item newest: the demo's "newest first" listing follows the catalog.
    now = datetime.now(UTC)
    rows = [
        product_row(demo_product_id(item.sku), item, now - timedelta(seconds=index))
        for index, item in enumerate(items)
    ]
    inserted = 0
    for start in range(0, len(rows), CHUNK_SIZE):
        inserted += await repository.insert_many_skipping_existing(session, rows[start : start + CHUNK_SIZE])
    lines = [f"products: {inserted} demo products inserted, {len(rows) - inserted} already present"]
    if images > 0:
        storage = storage or storage_of(ProductsSettings())
        added = await seed_images(session, storage, items[:images])
        lines.append(f"products: {added} demo images generated")
    return lines


async def seed_with_images(session: AsyncSession) -> list[str]:
    """What `myshop up` and `myshop seed` load: the demo catalog, its first products pictured."""
    return await seed(session, images=DEMO_IMAGES)
