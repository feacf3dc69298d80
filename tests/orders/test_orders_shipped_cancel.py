"""A shipped order cannot be cancelled (a return follows its delivery instead), and a shipment and a
cancellation racing on one order: both lock the order's row, so exactly one wins, whichever comes first."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Awaitable
from typing import Any

import pytest
from eventually import eventually
from fulfillment_shop import begin_shipment, confirmed_order
from orders_shop import CANCEL, Shop
from sqlalchemy import text

WAITING_ON_A_LOCK = (
    "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() AND wait_event_type = 'Lock'"
)


async def test_cancelling_a_shipped_order_is_refused_and_suggests_a_return(shop: Shop) -> None:
    # Given a confirmed order that shipping has begun to ship
    customer, order, products = await confirmed_order(shop, lines=1)
    (await begin_shipment(shop, order["id"], str(uuid.uuid4()))).ok()

    # When its customer, then an admin, cancel it
    for token in (customer.token, shop.admin):
        answer = await shop.gql("orders", CANCEL, {"id": order["id"]}, token=token)

        # Then it is refused with ORDER_SHIPPED on `id`, suggesting a return
        assert answer.error_codes == ["ORDER_SHIPPED"]
        extensions = answer.errors[0]["extensions"]
        assert (extensions["field"], extensions["suggestion"]) == ("id", "requestReturn")
    # and nothing was given back: the order stays CONFIRMED, paid, its units gone
    assert (await shop.order(order["id"]))["status"] == "CONFIRMED"
    assert [p["status"] for p in await shop.payments_of(order["id"])] == ["CAPTURED"]
    assert (await shop.stock(products[0]))["onHand"] == 9


async def test_a_stranger_cancelling_a_shipped_order_is_told_it_is_not_theirs_first(shop: Shop) -> None:
    _, order, _ = await confirmed_order(shop, lines=1)
    (await begin_shipment(shop, order["id"], str(uuid.uuid4()))).ok()
    answer = await shop.gql("orders", CANCEL, {"id": order["id"]}, token=shop.customer().token)
    assert answer.error_codes == ["FORBIDDEN"]


@pytest.mark.parametrize("first", ["ship", "cancel"])
async def test_shipment_and_cancellation_racing_on_one_order_exactly_one_wins(shop: Shop, first: str) -> None:
    # Given a confirmed order whose row the test holds locked
    customer, order, products = await confirmed_order(shop, lines=1)
    engine = shop.engines["orders"]
    calls: dict[str, asyncio.Task[Any]] = {}

    def call(name: str) -> Awaitable[Any]:
        if name == "ship":
            return begin_shipment(shop, order["id"], str(uuid.uuid4()))
        return shop.gql("orders", CANCEL, {"id": order["id"]}, token=customer.token)

    async def waiting() -> int:
        async with engine.connect() as conn:
            return int((await conn.execute(text(WAITING_ON_A_LOCK))).scalar_one())

    async with engine.begin() as holder:
        await holder.execute(
            text("SELECT 1 FROM orders WHERE id = :id FOR UPDATE"), {"id": uuid.UUID(order["id"])}
        )
        # When the shipment and the cancellation both arrive, `first` queued first on the row's lock
        second = "cancel" if first == "ship" else "ship"
        calls[first] = asyncio.create_task(call(first))
        await eventually(waiting, lambda n: n == 1, what=f"{first} waiting on the order's lock")
        calls[second] = asyncio.create_task(call(second))
        await eventually(waiting, lambda n: n == 2, what=f"{second} waiting on the order's lock")
    # (the holder's transaction ends here: PostgreSQL grants the row to the waiters in their order)
    shipped, cancelled = await calls["ship"], await calls["cancel"]

    # Then exactly one wins, and the other is refused with its code
    payments = [p["status"] for p in await shop.payments_of(order["id"])]
    if first == "ship":
        assert shipped.ok()["beginOrderShipment"]["shippedAt"] is not None
        assert cancelled.error_codes == ["ORDER_SHIPPED"]
        assert (await shop.order(order["id"]))["status"] == "CONFIRMED"
        assert payments == ["CAPTURED"]
    else:
        assert cancelled.ok()["cancelOrder"]["status"] == "CANCELLED"
        assert shipped.error_codes == ["ORDER_NOT_SHIPPABLE"]
        assert payments == ["REFUNDED"]
        assert (await shop.stock(products[0]))["onHand"] == 10
        rows = await shop.rows(
            "orders", "SELECT shipped_at FROM orders WHERE id = :id", id=uuid.UUID(order["id"])
        )
        assert rows[0]["shipped_at"] is None
