"""Migration 0002 (stock per variant) on a database that has stock: every row keeps its units under its old
key, now its variant's id (the single variant products gave every older product shares its id), with the
product id the same; the reservation lines and the ledger follow, and the service works on the result. (That
the migrations match the models, and undo to nothing: tests/test_migrations.py.)"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator

import pytest
from sqlalchemy import pool, text
from sqlalchemy.ext.asyncio import AsyncEngine, async_sessionmaker, create_async_engine

from myshop import migrations
from subgraphs.inventory.service import InventoryService
from subgraphs.inventory.settings import InventorySettings

MUG, PLATE = uuid.UUID(int=1), uuid.UUID(int=2)
RESERVATION = uuid.UUID(int=10)


@pytest.fixture
async def at_0001() -> AsyncIterator[tuple[str, AsyncEngine]]:
    """A scratch inventory database at revision 0001 holding stock, a live reservation and their ledger."""
    settings = InventorySettings()
    name = f"{settings.database_prefix}inventory_variants_{uuid.uuid4().hex[:6]}"
    url = settings.database_url_on_server(name)
    await migrations.ensure_database(settings.postgres_url, name)
    engine = create_async_engine(url, poolclass=pool.NullPool)
    try:
        await migrations.upgrade_async("inventory", url, "0001_inventory")
        async with engine.begin() as conn:
            for statement in (
                f"INSERT INTO stock_items (product_id, on_hand, reserved) VALUES ('{MUG}', 10, 3), "
                f"('{PLATE}', 4, 0)",
                f"INSERT INTO reservations (id, key, order_id, status, expires_at) VALUES ('{RESERVATION}', "
                f"'order-1:reserve', gen_random_uuid(), 'RESERVED', now() + interval '1 hour')",
                f"INSERT INTO reservation_lines (reservation_id, product_id, quantity) VALUES "
                f"('{RESERVATION}', '{MUG}', 3)",
                "INSERT INTO stock_movements "
                "(product_id, delta_on_hand, delta_reserved, reason, reservation_id) "
                f"VALUES ('{MUG}', 10, 0, 'delivery', NULL), ('{PLATE}', 4, 0, 'delivery', NULL), "
                f"('{MUG}', 0, 3, 'reserved', '{RESERVATION}')",
            ):
                await conn.execute(text(statement))
        yield url, engine
    finally:
        await engine.dispose()
        await migrations.drop_database(settings.postgres_url, name)


async def test_existing_stock_rows_become_their_variants_rows_with_their_units(
    at_0001: tuple[str, AsyncEngine],
) -> None:
    url, engine = at_0001

    await migrations.upgrade_async("inventory", url)

    async with engine.connect() as conn:
        rows = (
            await conn.execute(
                text(
                    "SELECT variant_id, product_id, on_hand, reserved, variant_active, product_active "
                    "FROM stock_items ORDER BY variant_id"
                )
            )
        ).all()
        lines = (await conn.execute(text("SELECT variant_id, quantity FROM reservation_lines"))).all()
        ledger = (
            await conn.execute(
                text(
                    "SELECT variant_id, sum(delta_on_hand), sum(delta_reserved) FROM stock_movements "
                    "GROUP BY variant_id ORDER BY variant_id"
                )
            )
        ).all()
    assert [tuple(row) for row in rows] == [(MUG, MUG, 10, 3, True, True), (PLATE, PLATE, 4, 0, True, True)]
    assert [tuple(row) for row in lines] == [(MUG, 3)]
    assert [tuple(row) for row in ledger] == [(MUG, 10, 3), (PLATE, 4, 0)]


async def test_a_reservation_made_before_the_migration_is_confirmed_after_it(
    at_0001: tuple[str, AsyncEngine],
) -> None:
    url, engine = at_0001
    await migrations.upgrade_async("inventory", url)

    async with async_sessionmaker(engine, expire_on_commit=False).begin() as session:
        service = InventoryService(session, InventorySettings())
        confirmed = await service.confirm_reservation("order-1:reserve")
        mug = await service.product_stock(MUG)

    assert confirmed.status == "CONFIRMED"
    assert [(line.variant_id, line.product_id, line.quantity) for line in confirmed.lines] == [(MUG, MUG, 3)]
    assert (mug.on_hand, mug.reserved, mug.in_stock) == (7, 0, True)


async def test_the_downgrade_gives_the_rows_back_under_their_product_ids(
    at_0001: tuple[str, AsyncEngine],
) -> None:
    url, engine = at_0001
    await migrations.upgrade_async("inventory", url)

    await migrations.downgrade_async("inventory", url, "0001_inventory")

    async with engine.connect() as conn:
        rows = (
            await conn.execute(text("SELECT product_id, on_hand, reserved FROM stock_items ORDER BY 1"))
        ).all()
        lines = (await conn.execute(text("SELECT product_id, quantity FROM reservation_lines"))).all()
    assert [tuple(row) for row in rows] == [(MUG, 10, 3), (PLATE, 4, 0)]
    assert [tuple(row) for row in lines] == [(MUG, 3)]
