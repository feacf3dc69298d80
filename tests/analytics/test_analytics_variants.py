"""Analytics per product variant: units sold and revenue per variant and per product (a product's figures add
its variants' up), from order events whose items carry `variantId` and from older ones without it (their
product's id: its one variant's); stock levels kept per variant. Each test feeds an analytics of its own."""

from __future__ import annotations

import uuid
from typing import Any

from analytics_helpers import EVER, STATS, TOP, AnalyticsServer, event, money
from sqlalchemy import text

from shared.outbox import Event

VARIANT_STATS = """
query VariantStats($representations: [_Any!]!) {
  _entities(representations: $representations) {
    ... on ProductVariant { id stats { unitsSold revenue { amount currency } } }
  }
}"""


def order(type_: str, order_id: str, items: list[dict[str, Any]], **extra: Any) -> Event:
    payload = {
        "orderId": order_id,
        "userId": str(uuid.uuid4()),
        "total": sum(item["quantity"] * item["unitPrice"] for item in items),
        "currency": "USD",
        "items": items,
        **extra,
    }
    return event("orders", type_, payload)


def line(product: str, quantity: int, price: int, variant: str | None = None) -> dict[str, Any]:
    item: dict[str, Any] = {"productId": product, "quantity": quantity, "unitPrice": price}
    if variant is not None:
        item["variantId"] = variant
    return item


async def variant_stats(analytics: AnalyticsServer, *ids: str) -> list[dict[str, Any]]:
    representations = [{"__typename": "ProductVariant", "id": one} for one in ids]
    entities = (await analytics.query(VARIANT_STATS, {"representations": representations}))["_entities"]
    return [entity["stats"] for entity in entities]


async def test_sales_count_per_variant_and_per_product(analytics: AnalyticsServer) -> None:
    # Given a T-shirt sold in two variants in one order, and a mug in an order older than variants
    shirt, medium, large = str(uuid.uuid4()), str(uuid.uuid4()), str(uuid.uuid4())
    mug = str(uuid.uuid4())
    first, second = str(uuid.uuid4()), str(uuid.uuid4())
    shirts = [line(shirt, 2, 1000, medium), line(shirt, 1, 1500, large)]
    mugs = [line(mug, 3, 700)]

    await analytics.publish(
        order("OrderPlaced", first, shirts),
        order("OrderConfirmed", first, shirts),
        order("OrderConfirmed", second, mugs),
    )
    await analytics.caught_up("orders")

    # Then each variant has its own figures; the mug's line counts for the variant sharing its id
    assert await variant_stats(analytics, medium, large, mug, shirt) == [
        {"unitsSold": 2, "revenue": money((2000, "USD"))},
        {"unitsSold": 1, "revenue": money((1500, "USD"))},
        {"unitsSold": 3, "revenue": money((2100, "USD"))},
        {"unitsSold": 0, "revenue": []},  # the T-shirt's id names none of its variants
    ]
    # and a product's figures add its variants up, in topProducts too (one entry per product)
    products = (
        await analytics.query(
            STATS, {"representations": [{"__typename": "Product", "id": pid} for pid in (shirt, mug)]}
        )
    )["_entities"]
    assert [(p["stats"]["unitsSold"], p["stats"]["revenue"]) for p in products] == [
        (3, money((3500, "USD"))),
        (3, money((2100, "USD"))),
    ]
    top = (await analytics.query(TOP, {**EVER, "limit": 10}))["topProducts"]
    assert [(entry["product"]["id"], entry["unitsSold"]) for entry in top] == sorted(
        [(shirt, 3), (mug, 3)], key=lambda pair: pair[0]
    )


async def test_a_cancellation_after_confirmation_takes_back_each_variants_units(
    analytics: AnalyticsServer,
) -> None:
    shirt, medium, large = str(uuid.uuid4()), str(uuid.uuid4()), str(uuid.uuid4())
    kept, cancelled = str(uuid.uuid4()), str(uuid.uuid4())

    await analytics.publish(
        order("OrderConfirmed", kept, [line(shirt, 1, 1000, medium)]),
        order("OrderConfirmed", cancelled, [line(shirt, 4, 1000, medium), line(shirt, 2, 1200, large)]),
        order(
            "OrderCancelled",
            cancelled,
            [line(shirt, 4, 1000, medium), line(shirt, 2, 1200, large)],
            code="CANCELLED_BY_CUSTOMER",
            reason="changed mind",
        ),
    )
    await analytics.caught_up("orders")

    assert await variant_stats(analytics, medium, large) == [
        {"unitsSold": 1, "revenue": money((1000, "USD"))},
        {"unitsSold": 0, "revenue": money((0, "USD"))},
    ]


def stock(product: str, available: int, variant: str | None = None) -> Event:
    payload: dict[str, Any] = {
        "productId": product,
        "available": available,
        "reserved": 0,
        "onHand": available,
        "previousAvailable": 0,
        "reason": "test",
    }
    if variant is not None:
        payload["variantId"] = variant
    return event("inventory", "StockChanged", payload)


async def test_stock_levels_are_kept_per_variant(analytics: AnalyticsServer) -> None:
    shirt, medium, large, mug = (str(uuid.uuid4()) for _ in range(4))
    low = event("inventory", "StockLow", {"productId": shirt, "variantId": large, "available": 1})

    await analytics.publish(stock(shirt, 5, medium), stock(shirt, 1, large), stock(mug, 7), low)
    await analytics.caught_up("inventory")

    async with analytics.sessions() as session:
        rows = (
            await session.execute(
                text("SELECT variant_id::text, product_id::text, available, low_alerts FROM stock_levels")
            )
        ).all()
    assert sorted(tuple(row) for row in rows) == sorted(
        [(medium, shirt, 5, 0), (large, shirt, 1, 1), (mug, mug, 7, 0)]
    )
