"""Orders' `OrderCancelled` reaches shipping's consumer: the order's PENDING shipments are cancelled,
each with its `ShipmentCancelled`; other orders' shipments stay as they are; an event it cannot read ends in
its dead letters for an admin."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

from eventually import eventually
from shipments_shop import SHIPMENT, ShipmentsShop
from sqlalchemy import text

from shared.outbox import Event, stream_name

DEAD_LETTERS = "query { shippingDeadLetters { type error attempts } }"


async def test_cancelling_an_order_cancels_its_pending_shipments(shop: ShipmentsShop) -> None:
    customer, order = await shop.order([2, 1])
    first = await shop.created(order["id"], [(1, 1)])
    second = await shop.created(order["id"], [(1, 1), (2, 1)])
    _, other_order = await shop.order([1])
    other = await shop.created(other_order["id"], [(1, 1)])

    (await shop.cancel_order(customer, order["id"])).ok()

    async def status(shipment_id: str) -> str:
        return (await shop.act(SHIPMENT, shipment_id)).ok()["shipment"]["status"]

    for shipment in (first, second):
        await eventually(
            lambda s=shipment: status(s["id"]), lambda found: found == "CANCELLED", what="cancelled"
        )
    assert await status(other["id"]) == "PENDING"
    cancelled = [row for row in await shop.outbox() if row["event_type"] == "ShipmentCancelled"]
    assert [row["aggregate_id"] for row in cancelled] == [first["id"], second["id"]]
    payload = cancelled[1]["payload"]
    assert (payload["status"], payload["orderId"], payload["userId"]) == (
        "CANCELLED",
        order["id"],
        customer.id,
    )
    assert payload["cancelledAt"] and payload["fulfillmentStatus"] == payload["previousFulfillmentStatus"]
    assert await shop.fulfillment_status(order["id"]) == "UNFULFILLED"


async def test_a_shipment_of_a_cancelled_order_never_ships(shop: ShipmentsShop) -> None:
    customer, order = await shop.order([1])
    shipment = await shop.created(order["id"], [(1, 1)])
    (await shop.cancel_order(customer, order["id"])).ok()

    # Orders refuses its leave (its code passed on), or the consumer cancelled the shipment first (CONFLICT).
    refused = await shop.ship(shipment["id"])

    assert refused.error_codes in (["ORDER_NOT_SHIPPABLE"], ["CONFLICT"])
    assert refused.errors[0]["extensions"]["status"] == "CANCELLED"  # the order's, or the shipment's
    assert [row["event_type"] for row in await shop.outbox(shipment["id"])] in (
        ["ShipmentCreated"],
        ["ShipmentCreated", "ShipmentCancelled"],
    )
    async with shop.engines["orders"].connect() as conn:
        shipped_at = await conn.scalar(
            text("SELECT shipped_at FROM orders WHERE id = :id"), {"id": order["id"]}
        )
    assert shipped_at is None


async def test_an_order_event_shipping_cannot_read_waits_in_its_dead_letters(shop: ShipmentsShop) -> None:
    event = Event(uuid.uuid4(), "OrderCancelled", "orders", 1, datetime.now(UTC), {"orderId": "not-an-id"})
    await shop.redis.xadd(stream_name(shop.prefix, "orders"), event.to_fields())

    letters = await eventually(
        lambda: shop.gql("shipping", DEAD_LETTERS, {}, token=shop.admin.token),
        lambda answer: answer.data and answer.data["shippingDeadLetters"],
        within=60,
        every=0.5,
        what="the event in shipping's dead letters",
    )
    refused = await shop.gql("shipping", DEAD_LETTERS, {}, token=shop.partner.token)

    [letter] = letters.data["shippingDeadLetters"]
    assert (letter["type"], letter["attempts"]) == ("OrderCancelled", 5)
    assert refused.error_codes == ["FORBIDDEN"]
