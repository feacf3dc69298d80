"""Concurrent reservations over real HTTP never oversell: the database's conditional UPDATE decides."""

from __future__ import annotations

import asyncio

from inventory_api import Inventory, new_key


async def test_fifty_concurrent_reservations_of_ten_units_reserve_exactly_ten(inventory: Inventory):
    product_id = await inventory.stocked(10)

    responses = await asyncio.gather(
        *(inventory.reserve_call(new_key(), [(product_id, 1)]) for _ in range(50))
    )

    codes = [resp.error_codes for resp in responses]
    assert codes.count([]) == 10
    assert codes.count(["OUT_OF_STOCK"]) == 40
    assert await inventory.stock(product_id) == {"available": 0, "reserved": 10, "onHand": 10}
    assert await inventory.scalar("SELECT count(*) FROM reservations") == 10
    assert await inventory.ledger_disagreements() == []


async def test_available_stock_never_goes_below_zero_while_reservations_race(inventory: Inventory):
    product_id = await inventory.stocked(10)
    seen: list[int] = []
    racing = True

    async def watch() -> None:
        while racing:
            seen.append((await inventory.stock(product_id))["available"])

    watcher = asyncio.create_task(watch())
    try:
        await asyncio.gather(*(inventory.reserve_call(new_key(), [(product_id, 1)]) for _ in range(50)))
    finally:
        racing = False
        await watcher

    assert seen
    assert min(seen) >= 0
    assert await inventory.stock(product_id) == {"available": 0, "reserved": 10, "onHand": 10}


async def test_multi_line_reservations_racing_in_opposite_orders_neither_deadlock_nor_oversell(
    inventory: Inventory,
):
    first, second = await inventory.stocked(20), await inventory.stocked(20)

    # Half list the products one way round, half the other: rows are locked in product id order regardless.
    responses = await asyncio.gather(
        *(
            inventory.reserve_call(
                new_key(), [(first, 1), (second, 1)] if i % 2 else [(second, 1), (first, 1)]
            )
            for i in range(40)
        )
    )

    codes = [resp.error_codes for resp in responses]
    assert codes.count([]) == 20
    assert codes.count(["OUT_OF_STOCK"]) == 20
    for product_id in (first, second):
        assert await inventory.stock(product_id) == {"available": 0, "reserved": 20, "onHand": 20}
    assert await inventory.ledger_disagreements() == []
