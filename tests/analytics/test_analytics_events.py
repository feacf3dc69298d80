"""What analytics makes of events: exactly once per event id, whatever the order they arrive in; unknown types
skipped; unreadable ones dead-lettered; views, searches and sales per product through `_entities`; user
activity. Each test feeds the streams of an analytics server of its own."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

from analytics_helpers import (
    DEAD_LETTERS,
    EVER,
    REPLAY_ALL,
    SALES,
    STATS,
    USERS,
    AnalyticsServer,
    event,
    money,
    order_event,
)
from eventually import eventually

from shared.outbox import Event


def viewed(product_id: str, count: int) -> Event:
    return event("products", "ProductViewed", {"productId": product_id, "userId": None, "count": count})


def searched(*product_ids: str) -> Event:
    payload = {
        "search": "mug",
        "category": None,
        "resultCount": len(product_ids),
        "productIds": list(product_ids),
        "userId": None,
    }
    return event("products", "ProductSearched", payload)


async def stats_of(analytics: AnalyticsServer, *product_ids: str) -> list[dict[str, Any]]:
    representations = [{"__typename": "Product", "id": product_id} for product_id in product_ids]
    return (await analytics.query(STATS, {"representations": representations}))["_entities"]


async def test_a_view_event_delivered_twice_is_counted_once(analytics: AnalyticsServer) -> None:
    product = str(uuid.uuid4())
    views = viewed(product, 3)

    await analytics.publish(views, views)
    await analytics.caught_up("products")

    assert (await stats_of(analytics, product))[0]["stats"]["views"] == 3


async def test_an_order_confirmation_delivered_twice_is_one_sale(analytics: AnalyticsServer) -> None:
    order_id, lines = str(uuid.uuid4()), [(str(uuid.uuid4()), 2, 1250)]
    confirmed = order_event("OrderConfirmed", order_id, items=lines)

    await analytics.publish(order_event("OrderPlaced", order_id, items=lines), confirmed, confirmed)
    await analytics.caught_up("orders")

    summary = (await analytics.query(SALES, EVER))["salesSummary"]
    assert (summary["orders"], summary["confirmedOrders"]) == (1, 1)
    assert summary["grossRevenue"] == money((2500, "USD"))


async def test_a_cancellation_consumed_before_its_confirmation_is_still_a_refund(
    analytics: AnalyticsServer,
) -> None:
    order_id, product = str(uuid.uuid4()), str(uuid.uuid4())
    confirmed_at = datetime.now(UTC) - timedelta(minutes=5)
    lines = [(product, 1, 4000)]

    await analytics.publish(
        order_event(
            "OrderCancelled", order_id, items=lines, code="CANCELLED_BY_CUSTOMER", reason="changed mind"
        ),
        order_event("OrderConfirmed", order_id, items=lines, at=confirmed_at),
    )
    await analytics.caught_up("orders")

    summary = (await analytics.query(SALES, EVER))["salesSummary"]
    assert (summary["confirmedOrders"], summary["cancellations"], summary["refundedOrders"]) == (1, 1, 1)
    assert (summary["grossRevenue"], summary["refunds"]) == (money((4000, "USD")), money((4000, "USD")))
    assert summary["revenue"] == money((0, "USD"))
    assert (await stats_of(analytics, product))[0]["stats"]["unitsSold"] == 0


async def test_product_stats_count_views_search_appearances_and_net_sales(analytics: AnalyticsServer) -> None:
    mug, plate, never_seen = (str(uuid.uuid4()) for _ in range(3))
    kept, returned = str(uuid.uuid4()), str(uuid.uuid4())

    await analytics.publish(
        viewed(mug, 2),
        viewed(mug, 5),
        searched(mug, plate),
        searched(plate, mug),
        searched(mug),
        searched(),
        order_event("OrderConfirmed", kept, items=[(mug, 2, 500), (plate, 1, 900)]),
        order_event("OrderConfirmed", returned, items=[(mug, 1, 450)]),
        order_event("OrderCancelled", returned, items=[(mug, 1, 450)], code="CANCELLED_BY_ADMIN", reason="x"),
    )
    await analytics.caught_up("products", "orders")

    assert await stats_of(analytics, mug, plate, never_seen) == [
        {"id": mug, "stats": {"views": 7, "searches": 3, "unitsSold": 2, "revenue": money((1000, "USD"))}},
        {"id": plate, "stats": {"views": 0, "searches": 2, "unitsSold": 1, "revenue": money((900, "USD"))}},
        {"id": never_seen, "stats": {"views": 0, "searches": 0, "unitsSold": 0, "revenue": []}},
    ]


async def test_user_activity_counts_registrations_logins_and_distinct_users_in_the_window(
    analytics: AnalyticsServer,
) -> None:
    ann, bob = str(uuid.uuid4()), str(uuid.uuid4())
    now = datetime.now(UTC)
    before = (now - timedelta(days=2)).isoformat()

    await analytics.publish(
        event(
            "users",
            "UserRegistered",
            {"userId": ann, "email": "a@x.test", "name": "Ann", "at": now.isoformat()},
        ),
        event("users", "UserRegistered", {"userId": bob, "email": "b@x.test", "name": "Bob", "at": before}),
        event("users", "UserLoggedIn", {"userId": ann, "at": now.isoformat()}),
        event("users", "UserLoggedIn", {"userId": ann, "at": now.isoformat()}),
        event("users", "UserLoggedIn", {"userId": bob, "at": now.isoformat()}),
        event("users", "UserLoggedIn", {"userId": bob, "at": before}),
    )
    await analytics.caught_up("users")
    window = {"from": (now - timedelta(hours=1)).isoformat(), "to": (now + timedelta(hours=1)).isoformat()}

    activity = (await analytics.query(USERS, window))["userActivity"]
    assert activity == {"registrations": 1, "logins": 3, "usersLoggedIn": 2, "activeBuyers": 0}


async def test_events_of_unknown_types_are_skipped(analytics: AnalyticsServer) -> None:
    product = str(uuid.uuid4())

    await analytics.publish(event("products", "ProductRenamedSomehow", {"productId": 42}), viewed(product, 1))
    await analytics.caught_up("products")

    assert (await stats_of(analytics, product))[0]["stats"]["views"] == 1
    assert (await analytics.query(DEAD_LETTERS))["analyticsDeadLetters"] == []


async def test_an_unreadable_event_ends_in_the_dead_letters_after_its_attempts(
    analytics: AnalyticsServer,
) -> None:
    broken = event("orders", "OrderPlaced", {"orderId": "not-an-id", "items": []})

    await analytics.publish(broken)
    letters = await dead_letters(analytics)

    assert [(x["eventId"], x["type"], x["producer"], x["attempts"]) for x in letters] == [
        (str(broken.id), "OrderPlaced", "orders", 5)
    ]
    assert letters[0]["error"].startswith("UnreadableEvent")


async def test_replaying_an_event_that_still_cannot_be_read_keeps_it_dead_lettered(
    analytics: AnalyticsServer,
) -> None:
    await analytics.publish(
        event("orders", "OrderConfirmed", {"orderId": str(uuid.uuid4()), "total": "a lot"})
    )
    await dead_letters(analytics)

    replayed = (await analytics.query(REPLAY_ALL))["replayAnalyticsDeadLetters"]

    assert replayed == 0
    assert [x["attempts"] for x in await dead_letters(analytics)] == [6]
    assert (await analytics.query(SALES, EVER))["salesSummary"]["confirmedOrders"] == 0


async def dead_letters(analytics: AnalyticsServer, within: float = 30.0) -> list[dict[str, Any]]:
    async def letters() -> list[dict[str, Any]]:
        return (await analytics.query(DEAD_LETTERS))["analyticsDeadLetters"]  # type: ignore[no-any-return]

    return await eventually(letters, within=within, what="a dead letter")


async def test_a_sum_beyond_the_schemas_int_is_refused_with_its_own_code(analytics: AnalyticsServer) -> None:
    lines = [(str(uuid.uuid4()), 1, 2_000_000_000)]
    await analytics.publish(
        *(order_event("OrderConfirmed", str(uuid.uuid4()), items=lines) for _ in range(2))
    )
    await analytics.caught_up("orders")

    body = await analytics.call(SALES, EVER, token=analytics.admin)

    assert [error["extensions"]["code"] for error in body["errors"]] == ["AMOUNT_OUT_OF_RANGE"]
    assert body["data"] == {"salesSummary": None}
