"""Concurrent cancels of one order: one cancels it, the others are told the truth (it is being cancelled, or
already is), never "already confirmed", and the refund and the restock happen once."""

from __future__ import annotations

import asyncio

from orders_shop import CANCEL, Shop

RACERS = 4  # the stack's orders pool holds 4 connections: each racer waits on the order's row lock in one


async def test_concurrent_cancels_one_wins_the_others_learn_it_is_being_or_already_cancelled(
    shop: Shop,
) -> None:
    # Given a confirmed order of 2 units
    product = await shop.product(stock=5)
    customer = shop.customer()
    order = (await shop.place(customer, [(product, 2)])).ok()["placeOrder"]

    # When its customer and admins cancel it at once
    tokens = [customer.token, *[shop.admin] * (RACERS - 1)]
    responses = await asyncio.gather(
        *(shop.gql("orders", CANCEL, {"id": order["id"]}, token=t) for t in tokens)
    )

    # Then exactly one cancels it
    winners = [r.data["cancelOrder"] for r in responses if not r.errors]
    assert len(winners) == 1
    assert winners[0]["status"] == "CANCELLED"
    # and every other is a CONFLICT saying the order is being cancelled or already is
    losers = [r for r in responses if r.errors]
    assert [r.error_codes for r in losers] == [["CONFLICT"]] * (RACERS - 1)
    reasons = {r.errors[0]["extensions"]["reason"] for r in losers}
    assert reasons <= {"BEING_CANCELLED", "ALREADY_CANCELLED"}, reasons
    # and the refund and the restock happened once
    assert [p["status"] for p in await shop.payments_of(order["id"])] == ["REFUNDED"]
    assert await shop.stock(product) == {"available": 5, "reserved": 0, "onHand": 5}
    assert await shop.ledger_sums(product) == (5, 0)
