"""The inventory database: the ledger agrees with the stock rows, and the demo seed (migrations:
tests/test_migrations.py)."""

from __future__ import annotations

import uuid

import pytest
from inventory_api import Inventory, new_key
from sqlalchemy import text
from sqlalchemy.exc import IntegrityError

from myshop.demo.catalog import demo_product_id, generate_products
from myshop.demo.inventory import demo_quantities, seed
from subgraphs.inventory.repository import insert_stock_skipping_existing
from subgraphs.inventory.settings import InventorySettings

TABLES = {"stock_items", "reservations", "reservation_lines", "stock_movements", "outbox"}


async def test_the_ledger_sums_equal_the_stock_rows_after_every_kind_of_change(inventory: Inventory) -> None:
    first, second = await inventory.stocked(30), await inventory.stocked(5)
    await inventory.adjust(first, -4, "damaged")
    await inventory.reserve("confirmed", [(first, 3), (second, 2)])
    await inventory.confirm("confirmed")
    await inventory.reserve("released", [(first, 2)])
    await inventory.release("released")
    await inventory.reserve("restocked", [(second, 1)])
    await inventory.confirm("restocked")
    await inventory.release("restocked", "order cancelled")
    await inventory.reserve(new_key(), [(first, 5), (second, 1)])
    await inventory.reserve_call(new_key(), [(first, 1), (second, 99)])  # refused

    assert await inventory.ledger_disagreements() == []
    assert await inventory.stock(first) == {"available": 18, "reserved": 5, "onHand": 23}
    assert await inventory.stock(second) == {"available": 2, "reserved": 1, "onHand": 3}
    sums = await inventory.rows(
        "SELECT variant_id::text, sum(delta_on_hand), sum(delta_reserved) FROM stock_movements "
        "GROUP BY variant_id ORDER BY 1"
    )
    assert sorted((pid, int(a), int(b)) for pid, a, b in sums) == sorted([(first, 23, 5), (second, 3, 1)])


@pytest.mark.parametrize(
    "statement",
    [
        "UPDATE stock_items SET reserved = on_hand + 1",
        "UPDATE stock_items SET reserved = -1",
        "UPDATE stock_items SET on_hand = -1, reserved = 0",
    ],
)
async def test_the_database_refuses_stock_rows_that_oversell(inventory: Inventory, statement: str) -> None:
    await inventory.stocked(3)

    with pytest.raises(IntegrityError):
        async with inventory.sessions.begin() as session:
            await session.execute(text(statement))


async def test_demo_product_ids_are_the_same_everywhere() -> None:
    sku = generate_products(1)[0].sku

    assert demo_product_id(sku) == demo_product_id(sku)
    assert str(demo_product_id("OUT-000001-LB")) == "e6baa3ec-daf7-5a87-b092-ea05ae2e065f"
    assert demo_product_id(sku) != demo_product_id(generate_products(2)[1].sku)


async def test_demo_quantities_are_deterministic_and_show_every_stock_state() -> None:
    quantities = demo_quantities(300, low_threshold=5)

    assert quantities == demo_quantities(300, low_threshold=5)
    assert set(quantities) == {demo_product_id(item.sku) for item in generate_products(300)}
    values = list(quantities.values())
    assert 5 <= values.count(0) <= 30
    assert 5 <= len([q for q in values if 0 < q < 5]) <= 40
    assert len([q for q in values if 10 <= q <= 200]) >= 240
    assert all(q == 0 or 0 < q < 5 or 10 <= q <= 200 for q in values)


async def test_seed_stocks_the_demo_products_once_with_ledger_rows(inventory: Inventory) -> None:
    already = demo_product_id(generate_products(1)[0].sku)
    await inventory.adjust(str(already), 7, "counted by hand")

    async with inventory.sessions.begin() as session:
        first = await seed(session, 40)
    async with inventory.sessions.begin() as session:
        again = await seed(session, 50)

    assert first == ["inventory: 39 demo products stocked, 1 already had stock"]
    assert again == ["inventory: 10 demo products stocked, 40 already had stock"]
    assert await inventory.scalar("SELECT count(*) FROM stock_items") == 50
    assert (await inventory.stock(str(already)))["onHand"] == 7
    assert await inventory.ledger_disagreements() == []
    assert await inventory.scalar("SELECT count(*) FROM outbox WHERE payload->>'reason' = 'seed'") == 0
    expected = demo_quantities(50, InventorySettings().low_stock_threshold)
    rows = await inventory.rows(
        "SELECT variant_id, on_hand FROM stock_items WHERE variant_id <> :p", p=already
    )
    assert {row.variant_id: row.on_hand for row in rows} == {
        k: v for k, v in expected.items() if k != already
    }


async def test_a_seed_names_the_product_of_each_variant_it_stocks(inventory: Inventory) -> None:
    product, variants = uuid.uuid4(), sorted(uuid.uuid4() for _ in range(2))
    single = uuid.uuid4()

    async with inventory.sessions.begin() as session:
        created = await insert_stock_skipping_existing(
            session, {variants[0]: 4, variants[1]: 6, single: 1}, dict.fromkeys(variants, product)
        )

    assert sorted((level.variant_id, level.product_id) for level in created) == sorted(
        [(variants[0], product), (variants[1], product), (single, single)]
    )
    assert (await inventory.stock(str(product)))["onHand"] == 10
