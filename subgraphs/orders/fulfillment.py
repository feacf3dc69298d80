"""Orders' side of fulfillment (shipping owns shipments): the internal operations shipping calls
(`fulfillmentOrder`, `beginOrderShipment`), and the order's copy of its shipments kept from shipping's events.

`beginOrderShipment` and `cancelOrder` both take the order row's lock, so of a shipment and a cancellation
racing on one order exactly one wins: once `shipped_at` is set the order cannot be cancelled, and once a
cancellation has started (saga COMPENSATING) the order cannot ship.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy.ext.asyncio import AsyncSession

from shared.auth import Role
from shared.context import Context
from shared.errors import Forbidden, MyShopError, NotFound
from shared.ids import parse_uuid, uuid_or_none
from subgraphs.orders import repository
from subgraphs.orders.models import Order, OrderItem, OrderStatus, SagaState


class OrderNotShippable(MyShopError):
    """Only a CONFIRMED order whose saga is done (not being placed, not being cancelled) ships."""

    code = "ORDER_NOT_SHIPPABLE"


@dataclass(frozen=True, slots=True)
class FulfillmentView:
    """An order as shipping needs it: its status, when it first shipped, and its frozen lines."""

    order: Order
    items: list[OrderItem]


def variant_label(item: OrderItem) -> str | None:
    """The variant's option values as a label (`M / Red`); None for a product sold as one thing."""
    return " / ".join(option["value"] for option in item.selected_options or []) or None


class FulfillmentService:
    def __init__(self, context: Context) -> None:
        self.context = context

    @property
    def session(self) -> AsyncSession:
        return self.context.session

    async def require_service(self) -> None:
        # The schema's IsService already refuses others; the rule is the service's, so it holds here too.
        principal = await self.context.require_principal()
        if not principal.has_any_role(Role.SERVICE):
            raise Forbidden("This needs the SERVICE role.")

    async def fulfillment_order(self, raw_order_id: object) -> FulfillmentView | None:
        """The order and its lines; None when there is no such order (an id that is no UUID names none)."""
        await self.require_service()
        order_id = uuid_or_none(raw_order_id)
        if order_id is None:
            return None
        order = await repository.get(self.session, order_id)
        if order is None:
            return None
        return FulfillmentView(order, (await repository.items_of(self.session, [order_id]))[order_id])

    async def begin_shipment(self, raw_order_id: object, raw_shipment_id: object) -> FulfillmentView:
        """Mark the order shipped (`shipped_at`, first time only) under its row lock, in the request's
        transaction: from its commit on, `cancelOrder` refuses. A repeat answers the same order. Refused with
        ORDER_NOT_SHIPPABLE (and `status`) unless the order is CONFIRMED with its saga done."""
        await self.require_service()
        order_id = parse_uuid(raw_order_id, "orderId", "an order id")
        # Shipping's shipment that ships first; orders keeps no link to it until its events arrive.
        parse_uuid(raw_shipment_id, "shipmentId", "a shipment id")
        order = await repository.get(self.session, order_id, lock=True)
        if order is None:
            raise NotFound("No such order.", field="orderId")
        if order.status != OrderStatus.CONFIRMED or order.saga_state != SagaState.DONE:
            raise OrderNotShippable(_not_shippable_message(order), field="orderId", status=order.status)
        if order.shipped_at is None:
            await repository.update_order(self.session, order_id, {"shipped_at": datetime.now(UTC)})
            order = await repository.get(self.session, order_id)
            assert order is not None
        return FulfillmentView(order, (await repository.items_of(self.session, [order_id]))[order_id])


def _not_shippable_message(order: Order) -> str:
    if order.saga_state == SagaState.COMPENSATING and order.final_status == OrderStatus.CANCELLED:
        return "The order is being cancelled: it cannot ship."
    if order.status in (OrderStatus.CANCELLED, OrderStatus.FAILED):
        return f"The order is {order.status}: it cannot ship."
    return "The order is not confirmed yet: it cannot ship."
