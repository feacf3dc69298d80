"""The price breakdown in analytics: `salesSummary`'s netRevenue, taxCollected, shippingRevenue and
discountTotal, and `voucherUsage`, each computed here from the events published to an analytics server of the
test's own; a refund after confirmation takes its figures back; events older than the breakdown count 0."""

from __future__ import annotations

import uuid
from collections import defaultdict
from datetime import UTC, datetime, timedelta
from typing import Any

from analytics_helpers import EVER, AnalyticsServer, event, money, order_event

from shared.outbox import Event

BREAKDOWN = """
query Sales($from: DateTime!, $to: DateTime!) {
  salesSummary(from: $from, to: $to) {
    revenue { amount currency } netRevenue { amount currency } taxCollected { amount currency }
    shippingRevenue { amount currency } discountTotal { amount currency }
  }
}"""
VOUCHERS = """
query Vouchers($from: DateTime!, $to: DateTime!) {
  voucherUsage(from: $from, to: $to) {
    promotionId code name orders refundedOrders discount { amount currency }
  }
}"""
WELCOME, SUMMER = str(uuid.uuid4()), str(uuid.uuid4())


def priced(
    kind: str,
    order_id: str,
    *,
    items_net: int,
    shipping_net: int,
    tax: int,
    discounts: list[tuple[str, str | None, int]],
    currency: str = "USD",
    at: datetime | None = None,
    **extra: Any,
) -> Event:
    """An order event carrying the breakdown as orders' pricing writes it (prices net of tax)."""
    discount = sum(amount for _, _, amount in discounts)
    subtotal = items_net + discount
    return order_event(
        kind,
        order_id,
        items=[(str(uuid.uuid4()), 1, subtotal)],
        currency=currency,
        at=at,
        total=items_net + shipping_net + tax,
        subtotal=subtotal,
        discountTotal=discount,
        shipping=shipping_net,
        shippingNet=shipping_net,
        taxTotal=tax,
        itemsNet=items_net,
        pricesIncludeTax=False,
        discounts=[
            {"promotionId": promotion, "code": code, "name": code or "Summer sale", "amount": amount}
            for promotion, code, amount in discounts
        ],
        taxLines=[{"taxClass": "standard", "rateBp": 1000, "amount": tax}],
        shippingMethod={"id": "standard", "name": "Standard"},
        cartId=str(uuid.uuid4()),
        **extra,
    )


def cancelled(confirmed: Event) -> Event:
    """The cancellation after confirmation of `confirmed`'s order (same money, now)."""
    return event("orders", "OrderCancelled", confirmed.payload | {"code": "CANCELLED_BY_CUSTOMER"})


FIGURES = {
    "netRevenue": "itemsNet",
    "taxCollected": "taxTotal",
    "shippingRevenue": "shippingNet",
    "discountTotal": "discountTotal",
}


def expected(confirmations: list[Event], refunded: set[str]) -> dict[str, list[dict[str, Any]]]:
    """The figures by their definition, for a window holding every event: each confirmed order's breakdown
    (0 where its event has none), minus the same for those refunded (in the window too)."""
    sums: dict[str, dict[str, int]] = defaultdict(lambda: defaultdict(int))
    for confirmation in confirmations:
        payload = confirmation.payload
        sign = 0 if payload["orderId"] in refunded else 1  # + when confirmed, - when refunded
        for figure, key in FIGURES.items():
            sums[payload["currency"]][figure] += sign * payload.get(key, 0)
    return {figure: money(*((sums[c][figure], c) for c in sorted(sums))) for figure in FIGURES}


async def test_the_breakdown_figures_match_the_published_orders_net_of_refunds(
    analytics: AnalyticsServer,
) -> None:
    earlier = datetime.now(UTC) - timedelta(minutes=10)
    kept_usd, refunded_usd, kept_eur, old = (str(uuid.uuid4()) for _ in range(4))
    confirmations = [
        priced(
            "OrderConfirmed",
            kept_usd,
            items_net=4500,
            shipping_net=500,
            tax=500,
            discounts=[(WELCOME, "WELCOME10", 500)],
        ),
        priced(
            "OrderConfirmed",
            refunded_usd,
            items_net=9000,
            shipping_net=0,
            tax=900,
            discounts=[(SUMMER, None, 1000)],
            at=earlier,
        ),
        priced(
            "OrderConfirmed",
            kept_eur,
            items_net=2000,
            shipping_net=700,
            tax=540,
            currency="EUR",
            discounts=[],
        ),
        # Before the breakdown: only the total (counts in revenue, 0 in every breakdown figure).
        order_event("OrderConfirmed", old, items=[(str(uuid.uuid4()), 2, 1500)]),
    ]

    await analytics.publish(*confirmations, cancelled(confirmations[1]))
    await analytics.caught_up("orders")

    summary = (await analytics.query(BREAKDOWN, EVER))["salesSummary"]
    want = expected(confirmations, refunded={refunded_usd})
    assert {name: summary[name] for name in want} == want
    assert summary["netRevenue"] == money((2000, "EUR"), (4500, "USD"))
    assert summary["taxCollected"] == money((540, "EUR"), (500, "USD"))
    assert summary["shippingRevenue"] == money((700, "EUR"), (500, "USD"))
    assert summary["discountTotal"] == money((0, "EUR"), (500, "USD"))
    assert summary["revenue"] == money((2000 + 700 + 540, "EUR"), (4500 + 500 + 500 + 3000, "USD"))


async def test_a_refund_in_a_later_window_takes_its_breakdown_back_there(analytics: AnalyticsServer) -> None:
    order_id = str(uuid.uuid4())
    confirmed_at = datetime.now(UTC) - timedelta(hours=2)
    confirmed = priced(
        "OrderConfirmed",
        order_id,
        items_net=1800,
        shipping_net=300,
        tax=210,
        discounts=[(WELCOME, "WELCOME10", 200)],
        at=confirmed_at,
    )

    await analytics.publish(confirmed, cancelled(confirmed))
    await analytics.caught_up("orders")

    split = (confirmed_at + timedelta(hours=1)).isoformat()
    first = (await analytics.query(BREAKDOWN, {"from": EVER["from"], "to": split}))["salesSummary"]
    second = (await analytics.query(BREAKDOWN, {"from": split, "to": EVER["to"]}))["salesSummary"]
    assert (first["netRevenue"], second["netRevenue"]) == (money((1800, "USD")), money((-1800, "USD")))
    assert (first["taxCollected"], second["taxCollected"]) == (money((210, "USD")), money((-210, "USD")))
    assert first["discountTotal"] == money((200, "USD"))
    assert second["shippingRevenue"] == money((-300, "USD"))


async def test_voucher_usage_counts_orders_and_discount_per_promotion_and_currency(
    analytics: AnalyticsServer,
) -> None:
    first, second, euro, refunded, automatic, unconfirmed = (str(uuid.uuid4()) for _ in range(6))
    welcome = [(WELCOME, "WELCOME10", 0)]
    events = [
        priced(
            "OrderConfirmed",
            first,
            items_net=900,
            shipping_net=0,
            tax=0,
            discounts=[(WELCOME, "WELCOME10", 100)],
        ),
        priced(
            "OrderConfirmed",
            second,
            items_net=1800,
            shipping_net=0,
            tax=0,
            discounts=[(WELCOME, "WELCOME10", 200), (SUMMER, None, 50)],
        ),
        priced(
            "OrderConfirmed",
            euro,
            items_net=450,
            shipping_net=0,
            tax=0,
            currency="EUR",
            discounts=[(WELCOME, "WELCOME10", 50)],
        ),
        priced(
            "OrderConfirmed",
            refunded,
            items_net=2700,
            shipping_net=0,
            tax=0,
            discounts=[(WELCOME, "WELCOME10", 300)],
            at=datetime.now(UTC) - timedelta(minutes=1),
        ),
        priced(
            "OrderConfirmed", automatic, items_net=100, shipping_net=0, tax=0, discounts=[(SUMMER, None, 25)]
        ),
        # Placed only (its payment not through): no use yet.
        priced("OrderPlaced", unconfirmed, items_net=100, shipping_net=0, tax=0, discounts=welcome),
    ]

    await analytics.publish(*events, cancelled(events[3]))
    await analytics.caught_up("orders")

    usage = (await analytics.query(VOUCHERS, EVER))["voucherUsage"]
    assert usage == [
        {
            "promotionId": WELCOME,
            "code": "WELCOME10",
            "name": "WELCOME10",
            # The refunded order was confirmed in the window too: counted, and its discount taken back.
            "orders": 4,
            "refundedOrders": 1,
            "discount": money((50, "EUR"), (100 + 200 + 300 - 300, "USD")),
        },
        {
            "promotionId": SUMMER,
            "code": None,
            "name": "Summer sale",
            "orders": 2,
            "refundedOrders": 0,
            "discount": money((75, "USD")),
        },
    ]


async def test_voucher_usage_of_a_window_without_orders_is_empty(analytics: AnalyticsServer) -> None:
    order_id = str(uuid.uuid4())
    at = datetime.now(UTC) - timedelta(days=2)
    await analytics.publish(
        priced(
            "OrderConfirmed",
            order_id,
            items_net=900,
            shipping_net=0,
            tax=0,
            discounts=[(WELCOME, "WELCOME10", 100)],
            at=at,
        )
    )
    await analytics.caught_up("orders")

    window = {"from": (at + timedelta(days=1)).isoformat(), "to": datetime.now(UTC).isoformat()}
    assert (await analytics.query(VOUCHERS, window))["voucherUsage"] == []
