"""Migration 0006: lines older than variants name their product's one variant (its id), and a downgrade folds
the lines of several variants of one product back into one line per product."""

from __future__ import annotations

import uuid

from sqlalchemy import pool, text
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine

from myshop import migrations
from shared.testing import scratch_database
from subgraphs.orders.settings import OrdersSettings


async def rows(engine: AsyncEngine, sql: str) -> list[tuple[object, ...]]:
    async with engine.connect() as conn:
        return [tuple(row) for row in await conn.execute(text(sql))]


async def test_the_migration_backfills_variant_ids_and_its_downgrade_folds_variants_back() -> None:
    async with scratch_database("orders_variants", OrdersSettings().postgres_url) as url:
        await migrations.upgrade_async("orders", url, "0005_abandoned_carts")
        engine = create_async_engine(url, poolclass=pool.NullPool)
        product, cart, order = uuid.uuid4(), uuid.uuid4(), uuid.uuid4()
        try:
            # Given a cart line and an order line from before variants
            async with engine.begin() as conn:
                await conn.execute(
                    text("INSERT INTO carts (id, user_id, status) VALUES (:c, :u, 'ACTIVE')"),
                    {"c": cart, "u": uuid.uuid4()},
                )
                await conn.execute(
                    text(
                        "INSERT INTO cart_lines (id, cart_id, product_id, quantity, seen_unit_price_amount, "
                        "seen_currency) VALUES (:id, :c, :p, 2, 100, 'USD')"
                    ),
                    {"id": uuid.uuid4(), "c": cart, "p": product},
                )
                await conn.execute(
                    text(
                        "INSERT INTO orders (id, user_id, idempotency_key, request_hash, currency, "
                        "total_amount, payment_method) VALUES (:o, :u, 'k', :h, 'USD', 200, 'tok_approve')"
                    ),
                    {"o": order, "u": uuid.uuid4(), "h": "0" * 64},
                )
                await conn.execute(
                    text(
                        "INSERT INTO order_items (order_id, line, product_id, product_name, quantity, "
                        "unit_price_amount, currency) VALUES (:o, 1, :p, 'Mug', 2, 100, 'USD')"
                    ),
                    {"o": order, "p": product},
                )

            # When the migration runs, each names the product's id as its variant
            await migrations.upgrade_async("orders", url, "0006_variants")
            assert await rows(engine, "SELECT variant_id, product_id FROM cart_lines") == [(product, product)]
            assert await rows(engine, "SELECT variant_id, sku FROM order_items") == [(product, None)]

            # And given a second variant of that product in the cart, a downgrade adds them up in one line
            async with engine.begin() as conn:
                await conn.execute(
                    text(
                        "INSERT INTO cart_lines (id, cart_id, product_id, variant_id, quantity, "
                        "seen_unit_price_amount, seen_currency, added_at) "
                        "VALUES (:id, :c, :p, :v, 3, 120, 'USD', now() + interval '1 minute')"
                    ),
                    {"id": uuid.uuid4(), "c": cart, "p": product, "v": uuid.uuid4()},
                )
            await migrations.downgrade_async("orders", url, "0005_abandoned_carts")
            assert await rows(
                engine, "SELECT product_id, quantity, seen_unit_price_amount FROM cart_lines"
            ) == [(product, 5, 100)]
        finally:
            await engine.dispose()
