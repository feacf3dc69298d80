"""Shipments of real CONFIRMED orders: partial fulfillment over several shipments, the statuses and their
events, and the rule that a line never has more in shipments than was ordered."""

from __future__ import annotations

import asyncio
from typing import Any

from eventually import eventually
from shipments_shop import CANCEL, DELIVER, RETURN, SHIPMENT, ShipmentsShop

EVENT_KEYS = {
    "shipmentId",
    "orderId",
    "userId",
    "status",
    "lines",
    "carrier",
    "trackingNumber",
    "trackingUrl",
    "createdAt",
    "shippedAt",
    "deliveredAt",
    "returnedAt",
    "cancelledAt",
    "orderCreatedAt",
    "fulfillmentStatus",
    "previousFulfillmentStatus",
}
LINE_KEYS = {"line", "productId", "variantId", "sku", "productName", "variantLabel", "quantity"}


def code(response: Any) -> tuple[str | None, str | None]:
    extensions = response.errors[0].get("extensions") or {}
    return extensions.get("code"), extensions.get("field")


async def test_two_shipments_fulfil_an_order_partially_then_fully_then_deliver_it(
    shop: ShipmentsShop,
) -> None:
    customer, order = await shop.order([1, 2, 3])
    assert await shop.fulfillment_status(order["id"]) == "UNFULFILLED"

    first = await shop.created(order["id"], [(1, 1), (2, 2)])
    assert first["status"] == "PENDING"
    assert [(line["line"], line["quantity"]) for line in first["lines"]] == [(1, 1), (2, 2)]
    assert await shop.fulfillment_status(order["id"]) == "UNFULFILLED"  # PENDING does not count

    shipped = (await shop.ship(first["id"], carrier="DHL", number="JD 0146/77")).ok()["markShipmentShipped"]
    assert shipped["status"] == "SHIPPED" and shipped["shippedAt"]
    assert (
        shipped["trackingUrl"]
        == "https://www.dhl.com/global-en/home/tracking.html?tracking-id=JD%200146%2F77"
    )
    assert await shop.fulfillment_status(order["id"]) == "PARTIALLY_FULFILLED"
    # Shipped: orders refuses to cancel the order now.
    assert (await shop.cancel_order(customer, order["id"])).error_codes == ["ORDER_SHIPPED"]

    second = await shop.created(order["id"], [(3, 3)])
    (await shop.ship(second["id"], carrier="Acme Parcels", number="A1")).ok()
    assert await shop.fulfillment_status(order["id"]) == "FULFILLED"
    (await shop.act(DELIVER, first["id"])).ok()
    assert await shop.fulfillment_status(order["id"]) == "FULFILLED"
    delivered = (await shop.act(DELIVER, second["id"])).ok()["markShipmentDelivered"]
    assert delivered["status"] == "DELIVERED" and delivered["trackingUrl"] is None  # an unknown carrier

    seen = (await shop.fulfillment(order["id"], by=customer)).ok()["_entities"][0]
    assert seen["fulfillmentStatus"] == "DELIVERED"
    assert [shipment["id"] for shipment in seen["shipments"]] == [first["id"], second["id"]]

    rows = await shop.outbox()
    assert [(row["event_type"], row["payload"]["fulfillmentStatus"]) for row in rows] == [
        ("ShipmentCreated", "UNFULFILLED"),
        ("ShipmentShipped", "PARTIALLY_FULFILLED"),
        ("ShipmentCreated", "PARTIALLY_FULFILLED"),
        ("ShipmentShipped", "FULFILLED"),
        ("ShipmentDelivered", "FULFILLED"),
        ("ShipmentDelivered", "DELIVERED"),
    ]
    assert [row["payload"]["previousFulfillmentStatus"] for row in rows] == [
        "UNFULFILLED",
        "UNFULFILLED",
        "PARTIALLY_FULFILLED",
        "PARTIALLY_FULFILLED",
        "FULFILLED",
        "FULFILLED",
    ]
    payload = rows[1]["payload"]
    assert set(payload) == EVENT_KEYS
    assert {row["aggregate_id"] for row in rows[:2]} == {first["id"]}
    assert (payload["orderId"], payload["userId"], payload["status"]) == (order["id"], customer.id, "SHIPPED")
    assert (payload["carrier"], payload["trackingNumber"]) == ("DHL", "JD 0146/77")
    assert payload["orderCreatedAt"] and payload["shippedAt"] and payload["deliveredAt"] is None
    assert [set(line) for line in payload["lines"]] == [LINE_KEYS, LINE_KEYS]
    assert payload["lines"][1]["productId"] == order["items"][1]["product"]["id"]
    # The relay publishes them on shipping's stream, in order.
    published = await eventually(
        shop.stream_events, lambda events: len(events) == 6, what="6 events published"
    )
    assert [event.type for event in published] == [row["event_type"] for row in rows]
    # Orders follows them: its feed of fulfillment changes, one per shipped or delivered parcel.
    changes = await eventually(
        lambda: shop.order_fulfillment_changes(order["id"]), lambda found: len(found) == 4, what="4 changes"
    )
    assert [change["fulfillmentStatus"] for change in changes] == [
        "PARTIALLY_FULFILLED",
        "FULFILLED",
        "FULFILLED",
        "DELIVERED",
    ]


async def test_more_than_is_left_to_ship_is_refused_naming_the_line(shop: ShipmentsShop) -> None:
    _, order = await shop.order([1, 2])
    assert code(await shop.create(order["id"], [(2, 3)])) == ("BAD_USER_INPUT", "input.lines[0].quantity")
    await shop.created(order["id"], [(2, 1)])

    refused = await shop.create(order["id"], [(1, 1), (2, 2)])

    assert code(refused) == ("BAD_USER_INPUT", "input.lines[1].quantity")
    assert (refused.errors[0]["extensions"]["ordered"], refused.errors[0]["extensions"]["left"]) == (2, 1)
    assert code(await shop.create(order["id"], [(1, 1), (3, 1)])) == ("BAD_USER_INPUT", "input.lines[1].line")
    assert code(await shop.create(order["id"], [(1, 0)])) == ("BAD_USER_INPUT", "input.lines[0].quantity")
    assert code(await shop.create(order["id"], [(1, 1), (1, 1)])) == ("BAD_USER_INPUT", "input.lines[1].line")
    assert code(await shop.create(order["id"], [])) == ("BAD_USER_INPUT", "input.lines")
    assert code(await shop.create(order["id"], [(n, 1) for n in range(1, 102)])) == (
        "BAD_USER_INPUT",
        "input.lines",
    )
    assert len(await shop.outbox()) == 1


async def test_concurrent_shipments_of_one_line_never_ship_more_than_ordered(shop: ShipmentsShop) -> None:
    _, order = await shop.order([2, 1])

    answers = await asyncio.gather(*(shop.create(order["id"], [(1, 2)]) for _ in range(4)))

    assert sorted(str(answer.error_codes) for answer in answers) == ["['BAD_USER_INPUT']"] * 3 + ["[]"]
    seen = (await shop.fulfillment(order["id"])).ok()["_entities"][0]
    assert [line["quantity"] for shipment in seen["shipments"] for line in shipment["lines"]] == [2]


async def test_a_repeated_idempotency_key_answers_the_same_shipment(shop: ShipmentsShop) -> None:
    _, order = await shop.order([3])
    first = (await shop.create(order["id"], [(1, 1)], key="pack-1")).ok()["createShipment"]

    again = (await shop.create(order["id"], [(1, 1)], key="pack-1")).ok()["createShipment"]
    other_lines = await shop.create(order["id"], [(1, 2)], key="pack-1")
    other_caller = (await shop.create(order["id"], [(1, 1)], key="pack-1", by=shop.admin)).ok()

    assert again["id"] == first["id"]
    assert code(other_lines) == ("CONFLICT", "input.idempotencyKey")
    assert other_caller["createShipment"]["id"] != first["id"]
    assert [row["event_type"] for row in await shop.outbox()] == ["ShipmentCreated", "ShipmentCreated"]


async def test_returned_and_cancelled_shipments_give_their_quantities_back(shop: ShipmentsShop) -> None:
    _, order = await shop.order([2])
    lost = await shop.created(order["id"], [(1, 2)])
    (await shop.ship(lost["id"])).ok()
    returned = (await shop.act(RETURN, lost["id"], reason="Address unknown")).ok()["markShipmentReturned"]
    assert (returned["status"], returned["returnReason"]) == ("RETURNED", "Address unknown")
    assert await shop.fulfillment_status(order["id"]) == "UNFULFILLED"

    pending = await shop.created(order["id"], [(1, 2)])
    cancelled = (await shop.act(CANCEL, pending["id"])).ok()["cancelShipment"]
    again = await shop.created(order["id"], [(1, 2)])

    assert cancelled["status"] == "CANCELLED" and cancelled["cancelledAt"]
    assert again["status"] == "PENDING"
    assert [row["event_type"] for row in await shop.outbox()][-3:] == [
        "ShipmentCreated",
        "ShipmentCancelled",
        "ShipmentCreated",
    ]


async def test_wrong_transitions_are_conflicts_and_repeats_answer_the_same(shop: ShipmentsShop) -> None:
    _, order = await shop.order([1, 1])
    pending = await shop.created(order["id"], [(1, 1)])
    refused = await shop.act(DELIVER, pending["id"])
    assert code(refused) == ("CONFLICT", "id") and refused.errors[0]["extensions"]["status"] == "PENDING"
    assert code(await shop.act(RETURN, pending["id"], reason="x")) == ("CONFLICT", "id")

    shipped = (await shop.ship(pending["id"], carrier="UPS", number="1Z999")).ok()["markShipmentShipped"]
    repeat = (await shop.ship(pending["id"], carrier="UPS", number="1Z999")).ok()["markShipmentShipped"]
    changed = await shop.ship(pending["id"], carrier="UPS", number="1Z000")
    assert (
        repeat["shippedAt"] == shipped["shippedAt"]
        and repeat["trackingUrl"] == "https://www.ups.com/track?tracknum=1Z999"
    )
    assert code(changed) == ("CONFLICT", "id") and changed.errors[0]["extensions"]["status"] == "SHIPPED"
    assert code(await shop.act(CANCEL, pending["id"])) == ("CONFLICT", "id")

    delivered = (await shop.act(DELIVER, pending["id"])).ok()["markShipmentDelivered"]
    assert (await shop.act(DELIVER, pending["id"])).ok()["markShipmentDelivered"] == delivered
    assert code(await shop.act(RETURN, pending["id"], reason="x")) == ("CONFLICT", "id")
    assert [row["event_type"] for row in await shop.outbox(pending["id"])] == [
        "ShipmentCreated",
        "ShipmentShipped",
        "ShipmentDelivered",
    ]
    unknown = await shop.act(SHIPMENT, "00000000-0000-0000-0000-000000000001")
    assert unknown.ok()["shipment"] is None
