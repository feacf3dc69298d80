"""Demo products with options and variants (`catalog_variants.py`) inserted into products' database, with
their options and variants; idempotent (a product whose SKU exists is left alone, variants and all). Older
than the generated catalog, so the newest listing's first pages hold products sold as one thing: a client that
orders the first product it lists by `productId` (the README's walkthrough, written before variants) still
can; search and categories find these. No events, like the rest of the seed."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlalchemy.ext.asyncio import AsyncSession

from myshop.demo.catalog_variants import DEMO_VARIANT_PRODUCTS
from myshop.demo.products import product_row
from subgraphs.products import repository


async def seed(session: AsyncSession) -> list[str]:
    """Insert the demo products with variants that are not there yet; flushes only."""
    now = datetime.now(UTC)
    by_id = {item.id: item for item in DEMO_VARIANT_PRODUCTS}
    # A day behind the generated catalog's newest (seeded a second apart), one second apart.
    rows = [
        product_row(item.id, item, now - timedelta(days=1, seconds=index))
        for index, item in enumerate(DEMO_VARIANT_PRODUCTS)
    ]
    inserted = await repository.insert_products_skipping_existing(session, rows)
    variants = 0
    for product_id, _sku in inserted:
        item = by_id[product_id]
        await repository.replace_options(session, product_id, item.options)
        await repository.insert_variants(
            session,
            [
                {
                    "id": variant.id,
                    "product_id": product_id,
                    "sku": variant.sku,
                    "price_amount": variant.price_amount,
                    "weight_grams": variant.weight_grams,
                    "option_values": variant.option_values,
                    "position": position,
                }
                for position, variant in enumerate(item.variants)
            ],
        )
        variants += len(item.variants)
    already = len(DEMO_VARIANT_PRODUCTS) - len(inserted)
    return [
        f"products: {len(inserted)} demo products with {variants} variants inserted, {already} already there"
    ]
