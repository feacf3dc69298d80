"""Orders' side of fulfillment (shipping owns shipments): the internal operations shipping calls
(`fulfillmentOrder`, `beginOrderShipment`), and the order's copy of its shipments kept from shipping's events
(`order_shipments`), which also become `OrderFulfillmentChanged` for the order's subscribers.

`beginOrderShipment` and `cancelOrder` both take the order row's lock, so of a shipment and a cancellation
racing on one order exactly one wins: once `shipped_at` is set the order cannot be cancelled, and once a
cancellation has started (saga COMPENSATING) the order cannot ship.
"""

from __future__ import annotations

import dataclasses
import enum
import logging
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from shared.auth import Role
from shared.context import Context
from shared.errors import Forbidden, MyShopError, NotFound
from shared.fulfillment import FulfillmentStatus
from shared.fulfillment import fulfillment_status as shared_fulfillment_status
from shared.ids import parse_uuid, uuid_or_none
from shared.outbox import Event
from shared.subscriptions import ConsumerSpec, Handler, Subscription
from subgraphs.orders import fulfillment_repository, repository
from subgraphs.orders.events import OrderEvent
from subgraphs.orders.models import Order, OrderItem, OrderShipment, OrderStatus, SagaState, outbox

log = logging.getLogger("myshop.orders.fulfillment")


class OrderShipped(MyShopError):
    """A parcel of the order has shipped (`orders.shipped_at`): it cannot be cancelled, only returned."""

    code = "ORDER_SHIPPED"


class OrderNotShippable(MyShopError):
    """Only a CONFIRMED order whose saga is done (not being placed, not being cancelled) ships."""

    code = "ORDER_NOT_SHIPPABLE"


@dataclass(frozen=True, slots=True)
class FulfillmentView:
    """An order as shipping needs it: its status, when it first shipped, and its frozen lines."""

    order: Order
    items: list[OrderItem]


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


# --- shipping's events ---


class ShipmentEvent(enum.StrEnum):
    """What shipping emits about a shipment (producer `shipping`), each with the whole shipment after the
    change and the order's fulfillment after it."""

    CREATED = "ShipmentCreated"
    SHIPPED = "ShipmentShipped"
    DELIVERED = "ShipmentDelivered"
    RETURNED = "ShipmentReturned"  # came back to the sender, undelivered
    CANCELLED = "ShipmentCancelled"


# Those that move the order's fulfillment (a PENDING shipment, or one cancelled while PENDING, counts for
# none).
FULFILLMENT_MOVES = frozenset({ShipmentEvent.SHIPPED, ShipmentEvent.DELIVERED, ShipmentEvent.RETURNED})
SHIPMENT_STATUSES = frozenset({"PENDING", "SHIPPED", "DELIVERED", "RETURNED", "CANCELLED"})


FULFILLMENT_STATUSES = frozenset(FulfillmentStatus)
# Bounds of what a shipment event may carry (an order has at most service.MAX_LINES lines; the columns').
MAX_SHIPMENT_LINES = 100
MAX_LABEL_LENGTH = 100
MAX_URL_LENGTH = 2000


@dataclass(frozen=True, slots=True)
class ShipmentCopy:
    """A shipment as one of shipping's events describes it; `ValueError` from `of` on a malformed one."""

    shipment_id: uuid.UUID
    order_id: uuid.UUID
    status: str
    lines: list[dict[str, int]]
    carrier: str | None
    tracking_number: str | None
    tracking_url: str | None
    shipped_at: datetime | None
    delivered_at: datetime | None
    fulfillment_status: str | None
    previous_fulfillment_status: str | None

    @classmethod
    def of(cls, payload: dict[str, Any]) -> ShipmentCopy:
        status = payload.get("status")
        if status not in SHIPMENT_STATUSES:
            raise ValueError(f"unknown shipment status {status!r}")
        return cls(
            shipment_id=_uuid(payload, "shipmentId"),
            order_id=_uuid(payload, "orderId"),
            status=str(status),
            lines=_lines(payload.get("lines")),
            carrier=_text(payload, "carrier", MAX_LABEL_LENGTH),
            tracking_number=_text(payload, "trackingNumber", MAX_LABEL_LENGTH),
            tracking_url=_text(payload, "trackingUrl", MAX_URL_LENGTH),
            shipped_at=_time(payload, "shippedAt"),
            delivered_at=_time(payload, "deliveredAt"),
            fulfillment_status=_fulfillment(payload, "fulfillmentStatus"),
            previous_fulfillment_status=_fulfillment(payload, "previousFulfillmentStatus"),
        )

    def row(self, event_at: datetime) -> dict[str, Any]:
        values = dataclasses.asdict(self)
        del values["fulfillment_status"], values["previous_fulfillment_status"]
        return {**values, "event_at": event_at}


async def shipment_changed(session: AsyncSession, event: Event) -> None:
    """Apply one of shipping's `Shipment*` events: update the order's copy of the shipment (unless it holds a
    newer event), and for a shipment shipped, delivered or returned emit `OrderFulfillmentChanged`, in this
    transaction (the consumer's, with its processed-event row: a redelivery acts once)."""
    shipment = ShipmentCopy.of(event.payload)
    # The order's row lock orders this event's outbox row after the order's earlier ones (outbox.py).
    order = await repository.get(session, shipment.order_id, lock=True)
    if order is None:
        # Shipping ships only orders it read from here; nothing to copy a shipment of an unknown order onto.
        log.warning("shipment %s names an unknown order %s: ignored", shipment.shipment_id, shipment.order_id)
        return
    applied = await fulfillment_repository.upsert_shipment(session, shipment.row(event.occurred_at))
    if not applied or event.type not in FULFILLMENT_MOVES:
        return
    if shipment.fulfillment_status is None:
        raise ValueError(f"{event.type} without fulfillmentStatus")
    await outbox.emit(
        session,
        OrderEvent.ORDER_FULFILLMENT_CHANGED,
        {
            "orderId": order.id,
            "userId": order.user_id,
            "fulfillmentStatus": shipment.fulfillment_status,
            "previousFulfillmentStatus": shipment.previous_fulfillment_status,
            "shipmentId": shipment.shipment_id,
            "shipmentStatus": shipment.status,
            "carrier": shipment.carrier,
            "trackingNumber": shipment.tracking_number,
            "trackingUrl": shipment.tracking_url,
        },
        aggregate_id=order.id,
    )


SHIPMENT_HANDLERS: dict[str, Handler] = {kind.value: shipment_changed for kind in ShipmentEvent}


def following_shipments(spec: ConsumerSpec) -> ConsumerSpec:
    """`spec` that also consumes shipping's shipment events (app.py's consumer)."""
    return dataclasses.replace(
        spec, subscriptions=[*spec.subscriptions, Subscription("shipping", SHIPMENT_HANDLERS)]
    )


def fulfillment_status(items: Sequence[OrderItem], shipments: Sequence[OrderShipment]) -> FulfillmentStatus:
    """Shipping's rule (`shared.fulfillment`) on orders' copies of the order's shipments."""
    ordered = {item.line: item.quantity for item in items}
    return shared_fulfillment_status(ordered, ((shipment.status, shipment.lines) for shipment in shipments))


def _uuid(payload: dict[str, Any], key: str) -> uuid.UUID:
    return uuid.UUID(str(payload.get(key)))


def _text(payload: dict[str, Any], key: str, max_length: int) -> str | None:
    value = payload.get(key)
    if value is None:
        return None
    if not isinstance(value, str) or len(value) > max_length:
        raise ValueError(f"{key} is not a string of at most {max_length} characters")
    return value


def _time(payload: dict[str, Any], key: str) -> datetime | None:
    value = payload.get(key)
    if value is None:
        return None
    moment = datetime.fromisoformat(str(value))
    if moment.tzinfo is None:
        raise ValueError(f"{key} has no time zone")
    return moment


def _fulfillment(payload: dict[str, Any], key: str) -> str | None:
    value = payload.get(key)
    if value is not None and value not in FULFILLMENT_STATUSES:
        raise ValueError(f"unknown {key} {value!r}")
    return value


def _lines(raw: object) -> list[dict[str, int]]:
    """[{line, quantity}] of the event's lines (their other keys are shipping's copy of the order's)."""
    if not isinstance(raw, list) or len(raw) > MAX_SHIPMENT_LINES:
        raise ValueError(f"lines is not a list of at most {MAX_SHIPMENT_LINES}")
    lines = []
    for entry in raw:
        line, quantity = (
            (entry.get("line"), entry.get("quantity")) if isinstance(entry, dict) else (None, None)
        )
        if type(line) is not int or type(quantity) is not int or line < 1 or quantity < 1:
            raise ValueError("a line is {line, quantity}, both positive integers")
        lines.append({"line": line, "quantity": quantity})
    return lines
