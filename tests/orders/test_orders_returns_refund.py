"""What a return refunds (returns_refund.py), against hand-computed figures: a checked-out order with a
voucher, tax and shipping returned over the API, and the rule's arithmetic alone for both tax modes."""

from __future__ import annotations

import uuid
from typing import Any

import pytest
from orders_shop import Shop
from returns_shop import Returns, refund_of
from test_orders_checkout import ADD, CHECKOUT, PROMOTION, VOUCHER, italian_shipping, ship_to_italy

from subgraphs.orders.models import Order, OrderItem
from subgraphs.orders.returns_refund import refund_of as compute_refund
from subgraphs.orders.returns_refund import share

LINES = "query L($id: ID!) { order(id: $id) { total { amount } items { line product { id } } } }"


@pytest.fixture
def returns(shop: Shop) -> Returns:
    return Returns(shop)


async def italian_order(shop: Shop, returns: Returns) -> tuple[Any, str, dict[str, int]]:
    """A delivered checkout of A 9.99 x 3, B 5.00 x 1, C 2.50 x 2 EUR with a 10% voucher, 22% tax and 5.00
    shipping: (customer, order id, {"A": line, "B": line, "C": line}).

    By hand: subtotal 3997; the voucher round(399.7) = 400, shared by the largest remainder: A 2997/3997 x 400
    = 299.92, B and C 50.04 each -> 299 + 50 + 50 and the remaining unit to A: A 300, B 50, C 50. Tax 22% of
    the net after discount: A 2697 -> 593.34 -> 593, B 450 -> 99, C 450 -> 99. Line totals A 3290, B 549,
    C 549; shipping 500 + 110 tax = 610; total 4998.
    """
    a = await shop.product(price=999, currency="EUR")
    b = await shop.product(price=500, currency="EUR")
    c = await shop.product(price=250, currency="EUR")
    customer = shop.customer()
    method = await italian_shipping(shop)
    cart = None
    for product, quantity in ((a, 3), (b, 1), (c, 2)):
        added = await shop.gql("orders", ADD, {"p": product, "q": quantity}, token=customer.token)
        cart = added.ok()["cartAddLine"]["id"]
    await ship_to_italy(shop, customer, method)
    code = f"RET-{uuid.uuid4().hex[:8].upper()}"
    voucher = {"name": "Ten", "kind": "PERCENTAGE", "value": 1000, "code": code}
    (await shop.gql("orders", PROMOTION, {"input": voucher}, token=shop.admin)).ok()
    (await shop.gql("orders", VOUCHER, {"c": code}, token=customer.token)).ok()
    placed = (await shop.gql("orders", CHECKOUT, {"cart": cart, "key": "k"}, token=customer.token)).ok()
    order_id = placed["checkoutComplete"]["id"]
    order = (await shop.gql("orders", LINES, {"id": order_id}, token=customer.token)).ok()["order"]
    assert order["total"]["amount"] == 4998
    line_of = {item["product"]["id"]: item["line"] for item in order["items"]}
    lines = {"A": line_of[a], "B": line_of[b], "C": line_of[c]}
    await returns.deliver(order_id, [(lines["A"], 3), (lines["B"], 1), (lines["C"], 2)])
    return customer, order_id, lines


async def test_returning_one_of_three_units_refunds_a_third_of_its_price_discount_and_tax(
    shop: Shop, returns: Returns
) -> None:
    customer, order_id, lines = await italian_order(shop, returns)

    received = await returns.refunded(customer.token, order_id, [(lines["A"], 1)])

    # floor(2997/3) = 999, floor(300/3) = 100, floor(593/3) = 197: 999 - 100 + 197 = 1096; no shipping.
    assert refund_of(received) == {"subtotal": 999, "discount": 100, "tax": 197, "shipping": 0, "total": 1096}
    assert received["refund"]["total"]["currency"] == "EUR"
    assert [row["amount"] for row in await returns.partial_refunds(order_id)] == [1096]


async def test_the_return_of_the_last_units_adds_the_shipping_and_all_returns_add_up_to_the_total(
    shop: Shop, returns: Returns
) -> None:
    customer, order_id, lines = await italian_order(shop, returns)
    await returns.refunded(customer.token, order_id, [(lines["A"], 1)])

    rest = await returns.refunded(
        customer.token, order_id, [(lines["A"], 2), (lines["B"], 1), (lines["C"], 2)]
    )

    # A: (2997 - 999) - (300 - 100) + (593 - 197) = 2194; B 549; C 549; shipping 610 (500 + 22%).
    assert refund_of(rest) == {
        "subtotal": 1998 + 500 + 500,
        "discount": 200 + 50 + 50,
        "tax": 396 + 99 + 99,
        "shipping": 610,
        "total": 3902,
    }
    assert {line["line"]: line["refund"]["amount"] for line in rest["lines"]} == {
        lines["A"]: 2194,
        lines["B"]: 549,
        lines["C"]: 549,
    }
    assert sum(row["amount"] for row in await returns.partial_refunds(order_id)) == 4998
    payments = await shop.payments_of(order_id)
    assert [payment["status"] for payment in payments] == ["REFUNDED"]


def test_shares_of_any_split_of_a_line_add_up_to_the_line() -> None:
    for amount, units in ((593, 3), (1, 7), (0, 2), (100_001, 9)):
        for split in ((1,) * units, (units,), (units - 1, 1) if units > 1 else (1,)):
            before, total = 0, 0
            for quantity in split:
                total += share(amount, units, before, quantity)
                before += quantity
            assert total == amount, (amount, units, split)


def test_a_share_beyond_the_lines_units_is_an_error() -> None:
    with pytest.raises(ValueError):
        share(100, 3, 2, 2)


def order_of(*, include_tax: bool, total: int, shipping: int) -> Order:
    return Order(
        id=uuid.uuid4(),
        prices_include_tax=include_tax,
        total_amount=total,
        shipping_amount=shipping,
        currency="EUR",
    )


def test_prices_including_tax_refund_items_less_discount_with_the_tax_inside() -> None:
    # A gross store: 3 x 10.00 with 22% inside (tax 3000 - round(3000 / 1.22) = 541), a 3.00 discount (the tax
    # on 2700: 2700 - round(2700 / 1.22) = 487), shipping 5.00 gross: total 2700 + 500 = 3200.
    item = OrderItem(
        line=1, quantity=3, unit_price_amount=1000, discount_amount=300, tax_amount=487, total_amount=2700
    )
    order = order_of(include_tax=True, total=3200, shipping=500)

    one = compute_refund(order, [item], {1: 1}, {})
    rest = compute_refund(order, [item], {1: 2}, {1: 1})

    # floor(3000/3) - floor(300/3) = 900 refunded; tax floor(487/3) = 162 is inside it, not added.
    assert (one.subtotal, one.discount, one.tax, one.shipping, one.total) == (1000, 100, 162, 0, 900)
    assert (rest.subtotal, rest.discount, rest.tax, rest.shipping, rest.total) == (2000, 200, 325, 500, 2300)
    assert one.total + rest.total == order.total_amount


def test_lines_older_than_checkout_refund_their_unit_price() -> None:
    item = OrderItem(
        line=1, quantity=2, unit_price_amount=700, discount_amount=None, tax_amount=None, total_amount=None
    )
    order = order_of(include_tax=False, total=1400, shipping=0)

    refund = compute_refund(order, [item], {1: 1}, {})

    assert (refund.subtotal, refund.discount, refund.tax, refund.shipping, refund.total) == (
        700,
        0,
        0,
        0,
        700,
    )
