"""The events shipping emits, written to its outbox in the transaction of the shipment change they report.

Stream: `<redis_prefix>events:shipping`; the aggregate is the shipment. Every event carries the whole shipment
as it is after the change, and its order's fulfillment after it and before it (fulfillment.py's rule):
`{shipmentId, orderId, userId, status, lines: [{line, productId, variantId, sku, productName, variantLabel,
quantity}], carrier, trackingNumber, trackingUrl, createdAt, shippedAt, deliveredAt, returnedAt, cancelledAt,
orderCreatedAt, fulfillmentStatus, previousFulfillmentStatus}`. Orders keeps its copy of shipments and its
fulfillment feed from them, notifications mails the customer, analytics times shipping and delivery.
"""

from __future__ import annotations

import enum
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from subgraphs.shipping.models import FulfillmentOrder, Shipment, ShipmentStatus, outbox


class ShipmentEvent(enum.StrEnum):
    SHIPMENT_CREATED = "ShipmentCreated"  # a PENDING shipment of some of an order's lines
    SHIPMENT_SHIPPED = "ShipmentShipped"  # handed to the carrier: carrier, tracking number and URL set
    SHIPMENT_DELIVERED = "ShipmentDelivered"
    SHIPMENT_RETURNED = "ShipmentReturned"  # came back to the sender undelivered
    SHIPMENT_CANCELLED = "ShipmentCancelled"  # a PENDING one, by staff or because its order was cancelled


EMITTED: tuple[ShipmentEvent, ...] = tuple(ShipmentEvent)

# The event each status is reached with.
EVENT_OF_STATUS: dict[str, ShipmentEvent] = {
    ShipmentStatus.PENDING: ShipmentEvent.SHIPMENT_CREATED,
    ShipmentStatus.SHIPPED: ShipmentEvent.SHIPMENT_SHIPPED,
    ShipmentStatus.DELIVERED: ShipmentEvent.SHIPMENT_DELIVERED,
    ShipmentStatus.RETURNED: ShipmentEvent.SHIPMENT_RETURNED,
    ShipmentStatus.CANCELLED: ShipmentEvent.SHIPMENT_CANCELLED,
}


def shipment_payload(
    shipment: Shipment, order: FulfillmentOrder, fulfillment: str, previous_fulfillment: str
) -> dict[str, Any]:
    return {
        "shipmentId": str(shipment.id),
        "orderId": str(shipment.order_id),
        "userId": str(shipment.user_id),
        "status": shipment.status,
        "lines": [
            {
                key: entry.get(key)
                for key in (
                    "line",
                    "productId",
                    "variantId",
                    "sku",
                    "productName",
                    "variantLabel",
                    "quantity",
                )
            }
            for entry in shipment.lines
        ],
        "carrier": shipment.carrier,
        "trackingNumber": shipment.tracking_number,
        "trackingUrl": shipment.tracking_url,
        "createdAt": shipment.created_at,
        "shippedAt": shipment.shipped_at,
        "deliveredAt": shipment.delivered_at,
        "returnedAt": shipment.returned_at,
        "cancelledAt": shipment.cancelled_at,
        "orderCreatedAt": order.order_created_at,
        "fulfillmentStatus": fulfillment,
        "previousFulfillmentStatus": previous_fulfillment,
    }


async def shipment_changed(
    session: AsyncSession, shipment: Shipment, order: FulfillmentOrder, fulfillment: str, previous: str
) -> None:
    """The event of the status `shipment` just reached (its row is locked: events of one shipment are in
    commit order)."""
    await outbox.emit(
        session,
        EVENT_OF_STATUS[shipment.status],
        shipment_payload(shipment, order, fulfillment, previous),
        aggregate_id=shipment.id,
    )
