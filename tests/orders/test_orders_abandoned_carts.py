"""The abandoned-cart worker (subgraphs/orders/abandoned_carts.py) on the real orders database, with a tiny
idle time: a signed-in customer's idle cart with lines is told once per idle period, in the outbox, and two
replicas passing at once tell it once."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from typing import Any

from cart_shop import ADD, CART, UPDATE, cart_call
from orders_shop import Shop
from sqlalchemy.ext.asyncio import async_sessionmaker

from subgraphs.orders.abandoned_carts import tell_abandoned
from subgraphs.orders.settings import OrdersSettings

IDLE = 0.2
SETTINGS = OrdersSettings(cart_abandoned_after_seconds=IDLE)
CREATE_GUEST = "mutation { createCart { token } }"


async def run_pass(shop: Shop, settings: OrdersSettings = SETTINGS, *, later: float = 0.0) -> int:
    now = datetime.now(UTC) + timedelta(seconds=later)
    async with async_sessionmaker(shop.engines["orders"])() as session, session.begin():
        return await tell_abandoned(session, settings, now=now)


async def told(shop: Shop, cart_id: str) -> list[dict[str, Any]]:
    rows = await shop.rows(
        "orders",
        "SELECT payload FROM outbox WHERE event_type = 'CartAbandoned' AND aggregate_id = :id ORDER BY id",
        id=cart_id,
    )
    return [row["payload"] for row in rows]


async def customer_cart(shop: Shop, price: int = 700, quantity: int = 3) -> tuple[Any, str, str]:
    customer = shop.customer()
    product = await shop.product(price=price)
    cart = (await cart_call(shop, ADD, customer.token, product=product, quantity=quantity)).ok()[
        "cartAddLine"
    ]
    return customer, product, cart["id"]


async def test_an_idle_customers_cart_is_told_once_with_its_lines(shop: Shop) -> None:
    customer, product, cart_id = await customer_cart(shop)

    first = await run_pass(shop, later=IDLE * 2)
    second = await run_pass(shop, later=IDLE * 4)

    assert first >= 1 and second == 0
    [payload] = await told(shop, cart_id)
    assert payload["cartId"] == cart_id and payload["userId"] == customer.id
    assert payload["currency"] == "USD" and payload["subtotal"] == 2100
    assert payload["lines"] == [{"productId": product, "variantId": product, "quantity": 3, "unitPrice": 700}]
    assert payload["lastActivityAt"]


async def test_a_cart_not_idle_long_enough_is_not_told(shop: Shop) -> None:
    _, _, cart_id = await customer_cart(shop)

    await run_pass(shop, OrdersSettings(cart_abandoned_after_seconds=3600), later=60)

    assert await told(shop, cart_id) == []


async def test_a_guests_cart_and_an_empty_cart_are_never_told(shop: Shop) -> None:
    product = await shop.product()
    token = (await cart_call(shop, CREATE_GUEST)).ok()["createCart"]["token"]
    guest = (await cart_call(shop, ADD, None, product=product, quantity=1, token=token)).ok()["cartAddLine"]
    empty = (await cart_call(shop, CART, shop.customer().token)).ok()["cart"]

    await run_pass(shop, later=IDLE * 2)

    assert await told(shop, guest["id"]) == []
    assert await told(shop, empty["id"]) == []


async def test_a_cart_touched_again_is_told_again_after_a_new_idle_period(shop: Shop) -> None:
    customer, _, cart_id = await customer_cart(shop)
    await run_pass(shop, later=IDLE * 2)
    line = (await cart_call(shop, CART, customer.token)).ok()["cart"]["lines"][0]["id"]
    await asyncio.sleep(0.01)  # the stamp lies before the new activity even on a coarse clock

    (await cart_call(shop, UPDATE, customer.token, line=line, quantity=1)).ok()
    await run_pass(shop, later=IDLE * 2)

    assert [payload["subtotal"] for payload in await told(shop, cart_id)] == [2100, 700]


async def test_two_replicas_passing_at_once_tell_each_cart_once(shop: Shop) -> None:
    carts = [(await customer_cart(shop))[2] for _ in range(4)]

    counts = await asyncio.gather(*(run_pass(shop, later=IDLE * 2) for _ in range(3)))

    assert sum(counts) == 4
    assert [len(await told(shop, cart_id)) for cart_id in carts] == [1, 1, 1, 1]


async def test_a_pass_tells_at_most_a_batch_and_the_next_pass_the_rest(shop: Shop) -> None:
    carts = [(await customer_cart(shop))[2] for _ in range(3)]
    small = OrdersSettings(cart_abandoned_after_seconds=IDLE, abandoned_carts_batch=2)

    passes = [await run_pass(shop, small, later=IDLE * 2) for _ in range(3)]

    assert passes == [2, 1, 0]
    assert [len(await told(shop, cart_id)) for cart_id in carts] == [1, 1, 1]
