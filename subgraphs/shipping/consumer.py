"""The orders events shipping consumes (group `shipping` on `events:orders`; each applied once,
`processed_events`):

- `OrderCancelled` {orderId, ...}: the order's PENDING shipments become CANCELLED, each with its
  `ShipmentCancelled`. Shipped ones stay: orders refuses to cancel an order once a shipment left
  (`beginOrderShipment`), so a cancelled order has none on its way.
"""

from __future__ import annotations

import uuid

from sqlalchemy.ext.asyncio import AsyncSession

from shared.context import Runtime
from shared.outbox import Event
from shared.subscriptions import ConsumerSpec, Handler, Subscription
from subgraphs.shipping.models import processed_events
from subgraphs.shipping.shipments import cancel_pending_of_order
from subgraphs.shipping.state import ShippingState

# The consumer group of shipping (its dead letters: `<prefix>deadletter:shipping`).
GROUP = "shipping"
ORDER_CANCELLED = "OrderCancelled"


def order_cancelled(runtime: Runtime[ShippingState]) -> Handler:
    async def handle(session: AsyncSession, event: Event) -> None:
        # A payload without an order id raises: retried, then dead-lettered for an admin.
        order_id = uuid.UUID(str(event.payload["orderId"]))
        await cancel_pending_of_order(session, order_id, runtime.state.metrics)

    return handle


def consumer(runtime: Runtime[ShippingState]) -> ConsumerSpec:
    return ConsumerSpec(
        group=GROUP,
        subscriptions=[Subscription("orders", {ORDER_CANCELLED: order_cancelled(runtime)})],
        processed=processed_events,
    )
