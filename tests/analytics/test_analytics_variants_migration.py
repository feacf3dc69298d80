"""Migration 0003 of analytics: lines and stock levels kept before variants become those of the variant that
shares their product's id; a downgrade adds a product's variants back up into one row."""

from __future__ import annotations

import uuid

from sqlalchemy import pool, text
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine

from myshop import migrations
from shared.testing import scratch_database
from subgraphs.analytics.settings import AnalyticsSettings


async def rows(engine: AsyncEngine, sql: str) -> list[tuple[object, ...]]:
    async with engine.connect() as conn:
        return sorted(tuple(row) for row in await conn.execute(text(sql)))


async def test_the_migration_keys_lines_and_stock_by_variant_and_its_downgrade_adds_them_up() -> None:
    async with scratch_database("analytics_variants", AnalyticsSettings().postgres_url) as url:
        await migrations.upgrade_async("analytics", url, "0002_price_breakdown")
        engine = create_async_engine(url, poolclass=pool.NullPool)
        product, order = uuid.uuid4(), uuid.uuid4()
        try:
            async with engine.begin() as conn:
                await conn.execute(
                    text(
                        "INSERT INTO order_lines (order_id, product_id, quantity, unit_price_amount, "
                        "currency) VALUES (:o, :p, 2, 100, 'USD')"
                    ),
                    {"o": order, "p": product},
                )
                await conn.execute(
                    text("INSERT INTO stock_levels (product_id, available) VALUES (:p, 4)"), {"p": product}
                )

            await migrations.upgrade_async("analytics", url, "0003_variants")
            assert await rows(engine, "SELECT variant_id, product_id, quantity FROM order_lines") == [
                (product, product, 2)
            ]
            assert await rows(engine, "SELECT variant_id, product_id, available FROM stock_levels") == [
                (product, product, 4)
            ]

            # A second variant of the product, sold in the same order and stocked
            other = uuid.uuid4()
            async with engine.begin() as conn:
                await conn.execute(
                    text(
                        "INSERT INTO order_lines (order_id, variant_id, product_id, quantity, "
                        "unit_price_amount, currency) VALUES (:o, :v, :p, 2, 200, 'USD')"
                    ),
                    {"o": order, "v": other, "p": product},
                )
                await conn.execute(
                    text("INSERT INTO stock_levels (variant_id, product_id, available) VALUES (:v, :p, 6)"),
                    {"v": other, "p": product},
                )
            await migrations.downgrade_async("analytics", url, "0002_price_breakdown")

            assert await rows(engine, "SELECT product_id, quantity, unit_price_amount FROM order_lines") == [
                (product, 4, 150)
            ]
            assert await rows(engine, "SELECT product_id, available FROM stock_levels") == [(product, 10)]
        finally:
            await engine.dispose()
