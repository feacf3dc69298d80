"""Never oversell: many customers racing for the last units get exactly what is in stock."""

from __future__ import annotations

import asyncio
import uuid

from orders_shop import Shop

# Three customers for every unit in stock. Thirty race as a hundred did, at a third of the sagas: a
# service's pool holds 4 connections in tests (tests/conftest.py), so no more reach PostgreSQL at once
# either way.
CUSTOMERS = 30


async def test_thirty_concurrent_orders_for_ten_units_confirm_exactly_ten(shop: Shop) -> None:
    # Given 10 units in stock
    product = await shop.product(price=500, stock=10)
    customers = [shop.customer() for _ in range(CUSTOMERS)]

    # When 30 different customers order 1 unit each, all at once
    responses = await asyncio.gather(*(shop.place(customer, [(product, 1)]) for customer in customers))

    # Then exactly 10 are confirmed and 20 refused as out of stock, with a code
    confirmed = [r.data["placeOrder"] for r in responses if not r.errors]
    refused = [r.error_codes for r in responses if r.errors]
    assert len(confirmed) == 10
    assert all(order["status"] == "CONFIRMED" for order in confirmed)
    assert refused == [["OUT_OF_STOCK"]] * (CUSTOMERS - 10)
    # and the stock ends at 0, never below, with the ledger and the orders agreeing on the 10 units
    assert await shop.stock(product) == {"available": 0, "reserved": 0, "onHand": 0}
    assert await shop.ledger_sums(product) == (0, 0)
    sold = await shop.rows(
        "orders",
        "SELECT coalesce(sum(i.quantity), 0) AS units FROM order_items i JOIN orders o ON o.id = i.order_id "
        "WHERE i.product_id = :id AND o.status = 'CONFIRMED'",
        id=uuid.UUID(product),
    )
    assert sold == [{"units": 10}]
    confirmed_movements = await shop.rows(
        "inventory",
        "SELECT coalesce(-sum(delta_on_hand), 0) AS units FROM stock_movements "
        "WHERE variant_id = :id AND delta_on_hand < 0",
        id=uuid.UUID(product),
    )
    assert confirmed_movements == [{"units": 10}]
    charges = await shop.rows("payments", "SELECT count(*) AS n FROM payments WHERE status = 'CAPTURED'")
    assert charges == [{"n": 10}]
