"""Orders follows shipping's shipment events: its copy of each shipment (`order_shipments`) is kept from them
(an older event changes nothing, a redelivered one acts once), and a shipment shipped, delivered or returned
becomes `OrderFulfillmentChanged`, which partners' `orderUpdates` and the customer's `orderStatusChanged`
deliver."""

from __future__ import annotations

import uuid
from typing import Any

import pytest
from eventually import eventually
from fulfillment_shop import confirmed_order
from orders_shop import Shop
from redis.asyncio import Redis
from shipping_events import ShipmentFeed, moment, publish, shipment_event
from ws_client import GraphQLWebSocket

from shared.consumer import HandlerFailed

UPDATES = """
subscription U($after: String) {
  orderUpdates(after: $after) {
    cursor kind status previousStatus fulfillmentStatus shipmentId order { id status }
  }
}"""
WATCH = "subscription W($id: ID!) { orderStatusChanged(orderId: $id) { id status } }"
DEAD_LETTERS = "query { orderDeadLetters { eventId type error attempts } }"
SAGA = ["PENDING", "INVENTORY_RESERVED", "PAYMENT_AUTHORIZED", "CONFIRMED"]


@pytest.fixture
def feed(shop: Shop, redis: Redis) -> ShipmentFeed:
    return ShipmentFeed(shop.engines["orders"], redis)


async def copies(shop: Shop, order_id: str) -> list[dict[str, Any]]:
    return await shop.rows(
        "orders",
        "SELECT shipment_id, status, lines, carrier, tracking_number, tracking_url, shipped_at, delivered_at "
        "FROM order_shipments WHERE order_id = :id ORDER BY shipment_id",
        id=uuid.UUID(order_id),
    )


async def fulfillment_events(shop: Shop, order_id: str) -> list[dict[str, Any]]:
    rows = await shop.rows(
        "orders",
        "SELECT payload FROM outbox WHERE event_type = 'OrderFulfillmentChanged' AND aggregate_id = :id "
        "ORDER BY id",
        id=order_id,
    )
    return [row["payload"] for row in rows]


def orders_url(shop: Shop) -> str:
    return shop.gql.stack.url("orders")


async def test_a_shipped_shipment_is_copied_and_announced_as_a_fulfillment_change(
    shop: Shop, redis: Redis
) -> None:
    # Given a confirmed order of two lines, and a shipment of its first line created, then shipped
    customer, order, _ = await confirmed_order(shop)
    shipment = str(uuid.uuid4())
    common = {"lines": [(1, 1)], "previous": "UNFULFILLED"}
    shipped_at = moment(1)
    created = shipment_event(
        "ShipmentCreated", order, shipment, fulfillment="UNFULFILLED", at=moment(), **common
    )
    shipped = shipment_event(
        "ShipmentShipped", order, shipment, fulfillment="PARTIALLY_FULFILLED", at=shipped_at, **common
    )

    # When shipping's relay publishes both
    await publish(redis, created)
    await publish(redis, shipped)

    # Then orders' consumer copies the shipment as it is after the last one
    rows = await eventually(
        lambda: copies(shop, order["id"]), lambda rows: rows and rows[0]["status"] == "SHIPPED",
        what="the shipped copy",
    )  # fmt: skip
    assert len(rows) == 1
    row = rows[0]
    assert (str(row["shipment_id"]), row["lines"]) == (shipment, [{"line": 1, "quantity": 1}])
    assert (row["carrier"], row["tracking_number"]) == ("DHL", "JD0123456789")
    assert row["tracking_url"] == "https://track.example/JD0123456789"
    assert row["shipped_at"] == shipped_at and row["delivered_at"] is None
    # and announces the shipped one (not the creation, which moves no fulfillment), with the contract's keys
    assert await fulfillment_events(shop, order["id"]) == [
        {
            "orderId": order["id"],
            "userId": customer.id,
            "fulfillmentStatus": "PARTIALLY_FULFILLED",
            "previousFulfillmentStatus": "UNFULFILLED",
            "shipmentId": shipment,
            "shipmentStatus": "SHIPPED",
            "carrier": "DHL",
            "trackingNumber": "JD0123456789",
            "trackingUrl": "https://track.example/JD0123456789",
        }
    ]


async def test_an_event_older_than_the_copy_changes_nothing(shop: Shop, feed: ShipmentFeed) -> None:
    # Given a shipment whose delivery orders has applied
    _, order, _ = await confirmed_order(shop, lines=1)
    shipment = str(uuid.uuid4())
    delivered = shipment_event(
        "ShipmentDelivered", order, shipment, lines=[(1, 1)], fulfillment="DELIVERED", previous="FULFILLED",
        at=moment(10),
    )  # fmt: skip
    assert await feed.apply(delivered) == [True]

    # When its shipping event, older, arrives late
    late = shipment_event(
        "ShipmentShipped", order, shipment, lines=[(1, 1)], fulfillment="FULFILLED", previous="UNFULFILLED",
        at=moment(5),
    )  # fmt: skip
    assert await feed.apply(late) == [True]

    # Then the copy stays delivered, and only the delivery was announced
    assert [row["status"] for row in await copies(shop, order["id"])] == ["DELIVERED"]
    assert [e["fulfillmentStatus"] for e in await fulfillment_events(shop, order["id"])] == ["DELIVERED"]


async def test_a_redelivered_event_acts_once(shop: Shop, feed: ShipmentFeed) -> None:
    _, order, _ = await confirmed_order(shop, lines=1)
    shipped = shipment_event(
        "ShipmentShipped", order, str(uuid.uuid4()), lines=[(1, 1)], fulfillment="FULFILLED",
        previous="UNFULFILLED", at=moment(),
    )  # fmt: skip

    assert await feed.apply(shipped, shipped) == [True, False]

    assert len(await copies(shop, order["id"])) == 1
    assert len(await fulfillment_events(shop, order["id"])) == 1


async def test_a_shipment_created_then_cancelled_is_copied_but_announces_nothing(
    shop: Shop, feed: ShipmentFeed
) -> None:
    _, order, _ = await confirmed_order(shop, lines=1)
    shipment = str(uuid.uuid4())
    common = {"lines": [(1, 1)], "fulfillment": "UNFULFILLED", "previous": "UNFULFILLED"}

    await feed.apply(
        shipment_event("ShipmentCreated", order, shipment, at=moment(), **common),
        shipment_event("ShipmentCancelled", order, shipment, at=moment(1), **common),
    )

    assert [row["status"] for row in await copies(shop, order["id"])] == ["CANCELLED"]
    assert await fulfillment_events(shop, order["id"]) == []


async def test_a_malformed_shipment_event_fails_and_writes_nothing(shop: Shop, feed: ShipmentFeed) -> None:
    _, order, _ = await confirmed_order(shop, lines=1)
    event = shipment_event(
        "ShipmentShipped", order, str(uuid.uuid4()), lines=[(1, 1)], fulfillment="FULFILLED",
        previous="UNFULFILLED", at=moment(),
    )  # fmt: skip
    event.payload["lines"] = [{"line": 1, "quantity": -3}]

    with pytest.raises(HandlerFailed):
        await feed.apply(event)

    assert await copies(shop, order["id"]) == []
    assert await fulfillment_events(shop, order["id"]) == []


async def test_a_shipment_event_orders_cannot_read_waits_in_its_dead_letters_for_admins(
    shop: Shop, redis: Redis
) -> None:
    # Given a shipped event whose lines orders cannot read, published into shipping's stream
    _, order, _ = await confirmed_order(shop, lines=1)
    bad = shipment_event(
        "ShipmentShipped", order, str(uuid.uuid4()), lines=[(1, 1)], fulfillment="FULFILLED",
        previous="UNFULFILLED", at=moment(),
    )  # fmt: skip
    bad.payload["lines"] = "not a list"
    await publish(redis, bad)

    # When orders' consumer has tried it its 5 times
    letters = await eventually(
        lambda: shop.gql("orders", DEAD_LETTERS, token=shop.admin),
        lambda answer: answer.ok()["orderDeadLetters"],
        within=60,
        every=0.5,
        what="the event in orders' dead letters",
    )

    # Then admins find it there (nobody else), and it changed nothing
    [letter] = letters.ok()["orderDeadLetters"]
    assert (letter["eventId"], letter["type"], letter["attempts"]) == (str(bad.id), "ShipmentShipped", 5)
    assert "lines" in letter["error"]
    assert (await shop.gql("orders", DEAD_LETTERS, token=shop.customer().token)).error_codes == ["FORBIDDEN"]
    assert await copies(shop, order["id"]) == []
    assert await fulfillment_events(shop, order["id"]) == []


async def test_a_partners_feed_delivers_fulfillment_updates_and_resumes_after_their_cursor(
    shop: Shop, redis: Redis
) -> None:
    # Given a partner following the feed while an order is placed (its 4 status updates)
    token = shop.issuer.issue(str(uuid.uuid4()), ["PARTNER"]).token
    async with GraphQLWebSocket(orders_url(shop), token=token) as ws:
        await ws.subscribe(UPDATES)
        _, order, _ = await confirmed_order(shop, lines=1)
        statuses = [p["data"]["orderUpdates"] for p in await ws.next_payloads(4)]
        assert [(u["kind"], u["status"], u["fulfillmentStatus"]) for u in statuses] == [
            ("STATUS", status, None) for status in SAGA
        ]

        # When its shipment ships, then is delivered
        shipment = str(uuid.uuid4())
        for type_, fulfillment, previous, at in (
            ("ShipmentShipped", "FULFILLED", "UNFULFILLED", moment()),
            ("ShipmentDelivered", "DELIVERED", "FULFILLED", moment(1)),
        ):
            event = shipment_event(
                type_, order, shipment, lines=[(1, 1)], fulfillment=fulfillment, previous=previous, at=at
            )
            await publish(redis, event)
        live = [p["data"]["orderUpdates"] for p in await ws.next_payloads(2)]

    # Then the partner receives both as FULFILLMENT updates of the order, its status unchanged
    assert [(u["kind"], u["fulfillmentStatus"], u["shipmentId"]) for u in live] == [
        ("FULFILLMENT", "FULFILLED", shipment),
        ("FULFILLMENT", "DELIVERED", shipment),
    ]
    assert {(u["order"]["id"], u["status"], u["previousStatus"]) for u in live} == {
        (order["id"], "CONFIRMED", "CONFIRMED")
    }

    # and resuming after the first one's cursor delivers exactly the second, then nothing
    async with GraphQLWebSocket(orders_url(shop), token=token) as ws:
        await ws.subscribe(UPDATES, {"after": live[0]["cursor"]})
        resumed = [p["data"]["orderUpdates"] for p in await ws.next_payloads(1)]
        try:
            extra = await ws.receive(seconds=0.5)
        except TimeoutError:
            extra = None
    assert resumed == [live[1]]
    assert extra is None


async def test_the_customers_order_story_goes_on_to_delivery_and_completes_there(
    shop: Shop, redis: Redis
) -> None:
    # Given a customer following their confirmed order of two lines
    customer, order, _ = await confirmed_order(shop)
    async with GraphQLWebSocket(orders_url(shop), token=customer.token) as ws:
        await ws.subscribe(WATCH, {"id": order["id"]})
        assert [p["data"]["orderStatusChanged"]["status"] for p in await ws.next_payloads(4)] == SAGA

        # When one parcel ships with everything, then is delivered
        shipment = str(uuid.uuid4())
        lines = [(1, 1), (2, 2)]
        await publish(redis, shipment_event(
            "ShipmentShipped", order, shipment, lines=lines, fulfillment="FULFILLED", previous="UNFULFILLED",
            at=moment(),
        ))  # fmt: skip
        shipped = await ws.receive()
        await publish(redis, shipment_event(
            "ShipmentDelivered", order, shipment, lines=lines, fulfillment="DELIVERED", previous="FULFILLED",
            at=moment(1),
        ))  # fmt: skip
        rest = await ws.until_complete()

    # Then each arrives as the order at that change, and the story completes at the delivery
    assert shipped["type"] == "next"
    assert shipped["payload"]["data"]["orderStatusChanged"] == {"id": order["id"], "status": "CONFIRMED"}
    assert [m["type"] for m in rest] == ["next", "complete"]

    # and a later subscriber gets the story of a delivered order and its end at once
    async with GraphQLWebSocket(orders_url(shop), token=customer.token) as ws:
        await ws.subscribe(WATCH, {"id": order["id"]})
        replay = await ws.until_complete()
    assert [m["type"] for m in replay] == ["next"] * 5 + ["complete"]
    assert [m["payload"]["data"]["orderStatusChanged"]["status"] for m in replay[:5]] == [*SAGA, "CONFIRMED"]
