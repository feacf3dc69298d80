"""Shipping's shipment events as orders consumes them in the tests: built as shipping emits them (contract of
issue 18), published into the `events:shipping` stream the stack's orders consumer reads, or applied through
the consumer's own path (`Consumer.apply`: processed-id row and handler in one transaction)."""

from __future__ import annotations

import os
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

from redis.asyncio import Redis
from sqlalchemy.ext.asyncio import AsyncEngine, async_sessionmaker

from shared.consumer import Consumer
from shared.outbox import Event, stream_name
from subgraphs.orders.fulfillment import following_shipments
from subgraphs.orders.privacy import CONSUMER

SPEC = following_shipments(CONSUMER)
STATUS_OF = {
    "ShipmentCreated": "PENDING",
    "ShipmentShipped": "SHIPPED",
    "ShipmentDelivered": "DELIVERED",
    "ShipmentReturned": "RETURNED",
    "ShipmentCancelled": "CANCELLED",
}


def moment(seconds: float = 0) -> datetime:
    """A time `seconds` after now-ish: a test orders its events by it, not by when they are sent."""
    return datetime.now(UTC).replace(microsecond=0) + timedelta(seconds=seconds)


def shipment_event(
    type_: str,
    order: dict[str, Any],
    shipment_id: str,
    *,
    lines: list[tuple[int, int]],
    fulfillment: str,
    previous: str,
    at: datetime,
    carrier: str | None = "DHL",
    tracking_number: str | None = "JD0123456789",
) -> Event:
    """One of shipping's events about shipment `shipment_id` of `order` (a placeOrder answer), after it."""
    status = STATUS_OF[type_]
    shipped = status in ("SHIPPED", "DELIVERED", "RETURNED")
    payload = {
        "shipmentId": shipment_id,
        "orderId": order["id"],
        "userId": order["user"]["id"],
        "status": status,
        "lines": [
            {
                "line": line,
                "productId": str(uuid.uuid4()),
                "variantId": str(uuid.uuid4()),
                "sku": None,
                "productName": "Parcel item",
                "variantLabel": None,
                "quantity": quantity,
            }
            for line, quantity in lines
        ],
        "carrier": carrier if shipped else None,
        "trackingNumber": tracking_number if shipped else None,
        "trackingUrl": f"https://track.example/{tracking_number}" if shipped and tracking_number else None,
        "createdAt": at.isoformat(),
        "shippedAt": at.isoformat() if shipped else None,
        "deliveredAt": at.isoformat() if status == "DELIVERED" else None,
        "returnedAt": at.isoformat() if status == "RETURNED" else None,
        "cancelledAt": at.isoformat() if status == "CANCELLED" else None,
        "orderCreatedAt": order["createdAt"],
        "fulfillmentStatus": fulfillment,
        "previousFulfillmentStatus": previous,
    }
    return Event(
        id=uuid.uuid4(),
        type=type_,
        producer="shipping",
        version=1,
        occurred_at=at,
        payload=payload,
        aggregate_id=shipment_id,
    )


async def publish(redis: Redis, event: Event) -> None:
    """Into shipping's stream, as its relay does: the stack's orders consumer picks it up."""
    await redis.xadd(stream_name(os.environ["MYSHOP_REDIS_PREFIX"], "shipping"), event.to_fields())  # type: ignore[arg-type]


class ShipmentFeed:
    """Applies shipping's events to the run's orders database as orders' consumer does."""

    def __init__(self, engine: AsyncEngine, redis: Redis) -> None:
        sessions = async_sessionmaker(engine, expire_on_commit=False)
        self.consumer = Consumer(SPEC, sessions, redis, os.environ["MYSHOP_REDIS_PREFIX"])

    async def apply(self, *events: Event) -> list[bool]:
        """Each event's handler in its own transaction; whether it ran (False: processed before)."""
        applied = []
        for one in events:
            handler = SPEC.handler_for("shipping", one.type)
            assert handler is not None, one.type
            applied.append(await self.consumer.apply(one, handler))
        return applied
