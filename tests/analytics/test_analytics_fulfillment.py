"""Issue 18 in analytics, against figures computed by hand: `fulfillmentTimes` from shipping's
ShipmentShipped/ShipmentDelivered (per shipment, mean and median, out-of-order events), and revenue net of
partial refunds: `salesSummary` (payments' PaymentRefunded with `partial`, orders' ReturnRefunded breakdown),
`topProducts`, `Product.stats` and `ProductVariant.stats` (a refunded return's units at their line's price).
The events are published to an analytics server of the test's own, as the producers' relays do (contract of
issue 18)."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from analytics_helpers import EVER, TOP, AnalyticsServer, event, money, order_event

from shared.outbox import Event
from subgraphs.analytics.events import UnreadableEvent
from subgraphs.analytics.events import return_refunded as handle_return_refunded

T0 = datetime(2026, 11, 2, 8, 0, tzinfo=UTC)
TIMES = """
query Times($from: DateTime!, $to: DateTime!) {
  fulfillmentTimes(from: $from, to: $to) {
    shipmentsShipped shipmentsDelivered
    toShip { shipments averageHours medianHours }
    toDeliver { shipments averageHours medianHours }
    inTransit { shipments averageHours medianHours }
  }
}"""
NET = """
query Net($from: DateTime!, $to: DateTime!) {
  salesSummary(from: $from, to: $to) {
    confirmedOrders refundedOrders partialRefundCount
    grossRevenue { amount currency } refunds { amount currency } partialRefunds { amount currency }
    refunded { amount currency } revenue { amount currency } averageOrderValue { amount currency }
    netRevenue { amount currency } taxCollected { amount currency } shippingRevenue { amount currency }
    discountTotal { amount currency }
  }
}"""
STATS = """
query Stats($representations: [_Any!]!) {
  _entities(representations: $representations) {
    ... on Product { id stats { unitsSold revenue { amount currency } } }
    ... on ProductVariant { id stats { unitsSold revenue { amount currency } } }
  }
}"""


def hours(n: float) -> datetime:
    return T0 + timedelta(hours=n)


def window(start: float, end: float) -> dict[str, str]:
    return {"from": hours(start).isoformat(), "to": hours(end).isoformat()}


def shipment_event(
    kind: str, shipment_id: str, *, created: float, shipped: float, delivered: float | None = None
) -> Event:
    """A shipment event as shipping publishes it (the whole shipment), its times in hours after T0."""
    status = "DELIVERED" if kind == "ShipmentDelivered" else "SHIPPED"
    payload = {
        "shipmentId": shipment_id,
        "orderId": str(uuid.uuid4()),
        "userId": str(uuid.uuid4()),
        "status": status,
        "lines": [],
        "carrier": "DHL",
        "trackingNumber": "JD1",
        "trackingUrl": None,
        "createdAt": hours(created).isoformat(),
        "shippedAt": hours(shipped).isoformat(),
        "deliveredAt": hours(delivered).isoformat() if delivered is not None else None,
        "returnedAt": None,
        "cancelledAt": None,
        "orderCreatedAt": hours(created).isoformat(),
        "fulfillmentStatus": "DELIVERED" if status == "DELIVERED" else "FULFILLED",
        "previousFulfillmentStatus": "FULFILLED" if status == "DELIVERED" else "UNFULFILLED",
    }
    at = hours(delivered if delivered is not None and status == "DELIVERED" else shipped)
    return event("shipping", kind, payload, at=at)


def shipped_and_delivered(created: float, shipped: float, delivered: float | None) -> list[Event]:
    shipment_id = str(uuid.uuid4())
    events = [shipment_event("ShipmentShipped", shipment_id, created=created, shipped=shipped)]
    if delivered is not None:
        events.append(
            shipment_event(
                "ShipmentDelivered", shipment_id, created=created, shipped=shipped, delivered=delivered
            )
        )
    return events


async def test_fulfillment_times_are_the_mean_and_median_hours_per_shipment_of_the_window(
    analytics: AnalyticsServer,
) -> None:
    # Given four shipments (hours after T0: order created, shipped, delivered):
    #   A: 0, 10, 34    B: 0, 20, 50    C: 1, 32, -    D: -48, -2, 40 (shipped before the window)
    a = shipped_and_delivered(0, 10, 34)
    b = shipped_and_delivered(0, 20, 50)
    c = shipped_and_delivered(1, 32, None)
    d = shipped_and_delivered(-48, -2, 40)
    # B's events arrive in the wrong order (delivered first): the facts do not depend on it
    await analytics.publish(*a, b[1], b[0], *c, *d)
    await analytics.caught_up("shipping")

    # When an admin asks for the window [T0, T0 + 60 h)
    times = (await analytics.query(TIMES, window(0, 60)))["fulfillmentTimes"]

    # Then shipped A, B, C: to ship 10, 20, 31 h -> mean 61/3 = 20.33, median 20
    #      delivered A, B, D: to deliver 34, 50, 88 h -> mean 172/3 = 57.33, median 50;
    #                         in transit 24, 30, 42 h -> mean 32, median 30
    assert times == {
        "shipmentsShipped": 3,
        "shipmentsDelivered": 3,
        "toShip": {"shipments": 3, "averageHours": 20.33, "medianHours": 20.0},
        "toDeliver": {"shipments": 3, "averageHours": 57.33, "medianHours": 50.0},
        "inTransit": {"shipments": 3, "averageHours": 32.0, "medianHours": 30.0},
    }

    # And in [T0 + 33 h, T0 + 45 h): nothing shipped, A and D delivered, an even count's median is the mean
    # of the middle two
    narrow = (await analytics.query(TIMES, window(33, 45)))["fulfillmentTimes"]
    assert narrow == {
        "shipmentsShipped": 0,
        "shipmentsDelivered": 2,
        "toShip": None,
        "toDeliver": {"shipments": 2, "averageHours": 61.0, "medianHours": 61.0},
        "inTransit": {"shipments": 2, "averageHours": 33.0, "medianHours": 33.0},
    }

    # And a window without shipments answers zeros and nulls
    empty = (await analytics.query(TIMES, window(100, 200)))["fulfillmentTimes"]
    assert empty == {
        "shipmentsShipped": 0,
        "shipmentsDelivered": 0,
        "toShip": None,
        "toDeliver": None,
        "inTransit": None,
    }


def priced_order(
    kind: str, order_id: str, items: list[tuple[str, int, int]], at: datetime, **figures: int
) -> Event:
    """An order event with orders' price breakdown (prices net of tax): total = itemsNet + shipping + tax."""
    return order_event(
        kind,
        order_id,
        items=items,
        at=at,
        total=figures["items_net"] + figures["shipping"] + figures["tax"],
        subtotal=figures["items_net"] + figures["discount"],
        discountTotal=figures["discount"],
        shippingNet=figures["shipping"],
        taxTotal=figures["tax"],
        itemsNet=figures["items_net"],
    )


def refund(order_id: str, amount: int, currency: str, at: datetime, **contract: Any) -> Event:
    payload = {
        "paymentId": str(uuid.uuid4()),
        "orderId": order_id,
        "userId": str(uuid.uuid4()),
        "amount": amount,
        "currency": currency,
        "reason": "test",
        **contract,
    }
    return event("payments", "PaymentRefunded", payload, at=at)


def return_refunded(
    order_id: str, lines: list[tuple[int, str, int]], at: datetime, **breakdown: int
) -> Event:
    """orders' ReturnRefunded: lines (order line, product, quantity), the refund's breakdown."""
    payload = {
        "returnId": str(uuid.uuid4()),
        "orderId": order_id,
        "userId": str(uuid.uuid4()),
        "status": "REFUNDED",
        "reason": "Too small",
        "lines": [
            {
                "line": line,
                "productId": product,
                "variantId": product,
                "productName": "P",
                "variantLabel": None,
                "quantity": quantity,
                "refund": 0,
            }
            for line, product, quantity in lines
        ],
        "refund": breakdown,
        "currency": "USD",
        "rejectionReason": None,
    }
    return event("orders", "ReturnRefunded", payload, at=at)


async def test_sales_revenue_is_net_of_partial_refunds_and_the_breakdown_of_refunded_returns(
    analytics: AnalyticsServer,
) -> None:
    kettle, mug = str(uuid.uuid4()), str(uuid.uuid4())
    # Given order A (USD), confirmed: lines 9000 less a 1000 discount = 8000 net, shipping 500, tax 1700:
    # total 10200
    order_a = str(uuid.uuid4())
    a = priced_order(
        "OrderConfirmed",
        order_a,
        [(kettle, 3, 2000), (mug, 3, 1000)],
        hours(1),
        items_net=8000,
        discount=1000,
        shipping=500,
        tax=1700,
    )
    # And order B (USD 5000, no breakdown) confirmed, then cancelled with its full refund (an event older
    # than partial refunds: no refundId, no partial)
    order_b = str(uuid.uuid4())
    b = order_event("OrderConfirmed", order_b, items=[(mug, 5, 1000)], at=hours(2))
    b_cancelled = event(
        "orders", "OrderCancelled", b.payload | {"code": "CANCELLED_BY_CUSTOMER"}, at=hours(3)
    )
    b_refund = refund(order_b, 5000, "USD", hours(3))
    # And a return of 1 kettle of A refunded: its lines 2000 less 300 discount, tax 540, no shipping:
    # total 2240, given back by payments as a partial refund (seen twice: two events, one refund id)
    refund_id = str(uuid.uuid4())
    partial = {"refundId": refund_id, "refundedTotal": 2240, "partial": True}
    returned = return_refunded(
        order_a, [(1, kettle, 1)], hours(4), subtotal=2000, discount=300, tax=540, shipping=0, total=2240
    )
    a_partial = refund(order_a, 2240, "USD", hours(4), **partial)
    a_partial_again = event("payments", "PaymentRefunded", a_partial.payload, at=hours(4))
    # And a EUR partial refund of 700 in the window for an order confirmed before it
    eur_order = str(uuid.uuid4())
    eur = order_event("OrderConfirmed", eur_order, items=[(mug, 1, 1500)], currency="EUR", at=hours(-10))
    eur_partial = refund(
        eur_order, 700, "EUR", hours(5), refundId=str(uuid.uuid4()), refundedTotal=700, partial=True
    )
    # And order D (USD), confirmed before the window: lines 1000, shipping 400, tax 300 (200 of the lines,
    # 100 of the shipping): total 1700, all of it returned in the window, so its refund gives the shipping
    # back with its tax (orders' rule: what the order charged beyond its lines, 500)
    order_d = str(uuid.uuid4())
    d = priced_order(
        "OrderConfirmed",
        order_d,
        [(mug, 1, 1000)],
        hours(-10),
        items_net=1000,
        discount=0,
        shipping=400,
        tax=300,
    )
    d_returned = return_refunded(
        order_d, [(1, mug, 1)], hours(5), subtotal=1000, discount=0, tax=200, shipping=500, total=1700
    )
    d_partial = refund(order_d, 1700, "USD", hours(5), refundId=str(uuid.uuid4()), partial=True)
    await analytics.publish(a, b, b_cancelled, eur, returned, d, d_returned)
    await analytics.publish(b_refund, a_partial, a_partial_again, eur_partial, d_partial)
    await analytics.caught_up("orders", "payments")

    # When an admin asks for the sales of [T0, T0 + 6 h)
    sales = (await analytics.query(NET, window(0, 6)))["salesSummary"]

    # Then USD: gross 10200 + 5000 = 15200 (D was confirmed before); refunds (B's cancellation) 5000;
    # partial refunds 2240 + 1700 = 3940; refunded 8940; revenue 15200 - 8940 = 6260; the breakdown takes
    # the returns' back: net 8000 - 0 (B has none) - (2240 - 0 - 540 = 1700) - (1700 - 500 - 200 = 1000)
    # = 5300; shipping 500 - 400 (D's shippingNet) = 100; tax 1700 - 540 - (200 + 500 - 400) = 860;
    # discount 1000 - 300 - 0 = 700. EUR: only its partial refund, so revenue -700.
    assert sales == {
        "confirmedOrders": 2,
        "refundedOrders": 1,
        "partialRefundCount": 3,
        "grossRevenue": money((0, "EUR"), (15200, "USD")),
        "refunds": money((0, "EUR"), (5000, "USD")),
        "partialRefunds": money((700, "EUR"), (3940, "USD")),
        "refunded": money((700, "EUR"), (8940, "USD")),
        "revenue": money((-700, "EUR"), (6260, "USD")),
        "averageOrderValue": money((7600, "USD")),
        "netRevenue": money((0, "EUR"), (5300, "USD")),
        "taxCollected": money((0, "EUR"), (860, "USD")),
        "shippingRevenue": money((0, "EUR"), (100, "USD")),
        "discountTotal": money((0, "EUR"), (700, "USD")),
    }

    # And a window before the return and refunds sees neither
    before = (await analytics.query(NET, window(0, 3.5)))["salesSummary"]
    assert before["partialRefunds"] == money((0, "USD"))
    assert before["revenue"] == money((10200, "USD")) and before["netRevenue"] == money((8000, "USD"))


async def test_returned_units_come_off_top_products_and_the_stats_at_their_line_price(
    analytics: AnalyticsServer,
) -> None:
    # Given an order of 3 kettles at 2000 and 1 mug at 500 confirmed at T0 + 1 h
    kettle, mug = str(uuid.uuid4()), str(uuid.uuid4())
    order_id = str(uuid.uuid4())
    confirmed = order_event("OrderConfirmed", order_id, items=[(kettle, 3, 2000), (mug, 1, 500)], at=hours(1))
    # And a return of 2 kettles refunded at T0 + 30 h (whatever its refund's share of discount and tax)
    returned = return_refunded(
        order_id, [(1, kettle, 2)], hours(30), subtotal=4000, discount=400, tax=0, shipping=0, total=3600
    )
    await analytics.publish(confirmed, returned)
    await analytics.caught_up("orders")

    # Then all time the kettle sold 3 - 2 = 1 unit for 2000: tied with the mug, the two rank by product id
    top = (await analytics.query(TOP, {**EVER, "limit": 10}))["topProducts"]
    expected = sorted(
        [
            {"product": {"id": kettle}, "unitsSold": 1, "revenue": money((2000, "USD"))},
            {"product": {"id": mug}, "unitsSold": 1, "revenue": money((500, "USD"))},
        ],
        key=lambda row: row["product"]["id"],
    )
    assert top == expected
    # And before the return, the 3 kettles count
    before = (await analytics.query(TOP, {**window(0, 24), "limit": 1}))["topProducts"]
    assert before == [{"product": {"id": kettle}, "unitsSold": 3, "revenue": money((6000, "USD"))}]
    # And the product's and its variant's stats are net of the return too
    representations = [
        {"__typename": "Product", "id": kettle},
        {"__typename": "ProductVariant", "id": kettle},
    ]
    entities = (await analytics.query(STATS, {"representations": representations}))["_entities"]
    assert [entity["stats"] for entity in entities] == [{"unitsSold": 1, "revenue": money((2000, "USD"))}] * 2


@pytest.mark.parametrize(
    "broken",
    [{"refund": None}, {"refund": {"tax": 1}}, {"lines": "all"}, {"lines": [{"line": 1, "quantity": 1}]}],
)
async def test_a_refunded_return_that_cannot_be_read_is_refused_for_the_dead_letters(
    broken: dict[str, Any],
) -> None:
    # A payload without its refund's total, lines or products raises before anything is written (the
    # consumer retries it, then dead-letters it with the reason)
    unreadable = return_refunded(str(uuid.uuid4()), [(1, str(uuid.uuid4()), 1)], T0, total=100)
    unreadable.payload.update(broken)

    with pytest.raises(UnreadableEvent):
        await handle_return_refunded(None, unreadable)  # type: ignore[arg-type]
