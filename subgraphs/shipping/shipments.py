"""The shipments domain: creating shipments of an order's lines (never more than ordered), moving them through
their statuses with their events, and who reads them.

Statuses: PENDING → SHIPPED → DELIVERED, SHIPPED → RETURNED (back undelivered: its quantities may ship
again), PENDING → CANCELLED. Every change of an order's shipments first takes the order's lock
(`shipment_repository.lock_order`), so "never more than ordered" holds under concurrent calls and each
event's `previousFulfillmentStatus` is the one its change really followed. Staff (PARTNER, ADMIN) act; the
order's customer and staff read. Every action runs in the request's transaction: flushes, never commits.
"""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from shared import ids
from shared.auth import Principal, Role
from shared.context import Context
from shared.errors import Conflict, Forbidden, NotFound
from shared.fulfillment import FulfillmentStatus
from shared.ids import parse_uuid, uuid_or_none
from shared.pagination import newest_first_cursor, newest_first_position, page_size
from subgraphs.shipping import events
from subgraphs.shipping import shipment_repository as repository
from subgraphs.shipping.fulfillment import (
    AskedLine,
    Tracking,
    clean_asked_lines,
    clean_return_reason,
    clean_tracking,
    fulfillment_status,
    held_quantities,
    shipment_lines,
)
from subgraphs.shipping.metrics import ShippingMetrics
from subgraphs.shipping.models import (
    IDEMPOTENCY_KEY_MAX_LENGTH,
    FulfillmentOrder,
    Shipment,
    ShipmentStatus,
)
from subgraphs.shipping.peers import OrderRefused
from subgraphs.shipping.state import ShippingState

# Who reads any shipment; a customer reads their orders' own.
_STAFF_ROLES = (Role.ADMIN, Role.PARTNER, Role.SERVICE)
# Shipments one order may have, cancelled and returned ones included: more parcels than any real order needs,
# so a loop of create-and-cancel cannot grow an order's shipments (read whole on every change) without end.
MAX_SHIPMENTS_PER_ORDER = 200


def _now() -> datetime:
    # Python's clock, not now(): a transaction that waited for the order's lock dates its change after it.
    return datetime.now(UTC)


def _check_visible(principal: Principal, user_id: uuid.UUID) -> None:
    if principal.is_user(user_id) or principal.has_any_role(*_STAFF_ROLES):
        return
    raise Forbidden("Only the order's customer, or staff, can see its shipments.")


def _actor(principal: Principal) -> uuid.UUID:
    """Whose idempotency keys these are: the caller's user id (a subject that is no UUID hashed to one)."""
    return uuid_or_none(principal.subject) or uuid.uuid5(uuid.NAMESPACE_URL, f"myshop:{principal.subject}")


@dataclass
class ShipmentPage:
    shipments: list[Shipment]
    size: int
    has_previous: bool
    kind: str

    def cursor_of(self, shipment: Shipment) -> str:
        return newest_first_cursor(self.kind, shipment.created_at, shipment.id)


@dataclass(frozen=True, slots=True)
class OrderShipments:
    """An order's shipments and its fulfillment, as its reader may see them."""

    shipments: Sequence[Shipment]
    fulfillment: str


def _conflict(shipment: Shipment, wanted: str) -> Conflict:
    return Conflict(
        f"A {shipment.status} shipment cannot become {wanted}.",
        field="id",
        status=shipment.status,
        reason="INVALID_TRANSITION",
    )


class ShipmentService:
    def __init__(self, context: Context) -> None:
        self.context = context
        self.state: ShippingState = context.runtime.state

    @property
    def session(self) -> AsyncSession:
        return self.context.session

    @property
    def metrics(self) -> ShippingMetrics:
        return self.state.metrics

    # --- reading ---

    async def get_shipment(self, raw_id: object) -> Shipment | None:
        principal = await self.context.require_principal()
        shipment = await self.context.loaders.shipment.load(str(raw_id))
        if shipment is None:
            return None
        _check_visible(principal, shipment.user_id)
        return shipment

    async def list_shipments(
        self, *, status: str | None, first: int | None, after: str | None
    ) -> ShipmentPage:
        """Newest first (PARTNER or ADMIN: the schema's guard)."""
        size = page_size(first)
        kind = f"shipments:{status or '*'}"
        key = newest_first_position(after, kind) if after is not None else None
        rows = await repository.newest_shipments(self.session, status=status, after=key, limit=size + 1)
        for row in rows:
            self.context.loaders.shipment.prime(str(row.id), row)
        return ShipmentPage(rows, size=size, has_previous=after is not None, kind=kind)

    async def of_order(self, raw_order_id: object) -> OrderShipments:
        """An order's shipments (oldest first) and fulfillment; nothing shipped yet: UNFULFILLED with none,
        whoever asks (shipping cannot tell whose an order it never shipped is; there is nothing to hide)."""
        principal = await self.context.require_principal()
        order = await self.context.loaders.fulfillment_order.load(str(raw_order_id))
        if order is None:
            return OrderShipments([], FulfillmentStatus.UNFULFILLED)
        _check_visible(principal, order.user_id)
        shipments = await self.context.loaders.shipments_of_order.load(order.order_id)
        return OrderShipments(shipments, fulfillment_status(order.lines, shipments))

    # --- creating ---

    async def create(
        self, raw_order_id: object, raw_lines: Sequence[tuple[object, object]], raw_key: object
    ) -> Shipment:
        order_id = parse_uuid(raw_order_id, "input.orderId", "an order id")
        asked = clean_asked_lines(raw_lines)
        key = ids.clean_key(raw_key, field="input.idempotencyKey", max_length=IDEMPOTENCY_KEY_MAX_LENGTH)
        actor = _actor(await self.context.require_principal())
        await repository.lock_order(self.session, order_id)
        # After the lock: a retry racing its first call finds the shipment that call made.
        earlier = await repository.shipment_by_key(self.session, actor, key)
        if earlier is not None:
            return self._replay(earlier, order_id, asked)
        # Asked under the lock: an OrderCancelled handled meanwhile waits, then cancels what is made here.
        found = await self.state.orders.fulfillment_order(order_id)
        if found is None:
            raise NotFound("No such order.", field="input.orderId")
        if found.status != "CONFIRMED":
            raise OrderRefused(
                "ORDER_NOT_SHIPPABLE",
                "Only a CONFIRMED order ships.",
                field="input.orderId",
                status=found.status,
            )
        order = await repository.keep_fulfillment_order(
            self.session,
            {
                "order_id": found.id,
                "user_id": found.user_id,
                "order_created_at": found.created_at,
                "lines": found.lines,
                "created_at": _now(),
            },
        )
        existing = await repository.shipments_of_orders(self.session, [order_id])
        if len(existing) >= MAX_SHIPMENTS_PER_ORDER:
            raise Conflict(
                f"An order has at most {MAX_SHIPMENTS_PER_ORDER} shipments.",
                field="input.orderId",
                reason="TOO_MANY_SHIPMENTS",
                limit=MAX_SHIPMENTS_PER_ORDER,
            )
        lines = shipment_lines(asked, order.lines, held_quantities(existing))
        now = _now()
        shipment = Shipment(
            id=uuid.uuid4(),
            order_id=order_id,
            user_id=order.user_id,
            status=ShipmentStatus.PENDING,
            lines=lines,
            created_by=actor,
            idempotency_key=key,
            created_at=now,
            updated_at=now,
        )
        self.session.add(shipment)
        try:
            await self.session.flush()
        except IntegrityError as exc:  # the same key, at the same moment, for another order
            raise Conflict("This idempotency key was just used.", field="input.idempotencyKey") from exc
        # A PENDING shipment moves no fulfillment: before and after are the same.
        fulfillment = fulfillment_status(order.lines, existing)
        await events.shipment_changed(self.session, shipment, order, fulfillment, fulfillment)
        self.metrics.shipment("created")
        return shipment

    def _replay(self, earlier: Shipment, order_id: uuid.UUID, asked: Sequence[AskedLine]) -> Shipment:
        """The shipment a key made, when asked for again with the same order and lines."""
        same_lines = sorted((line.line, line.quantity) for line in asked) == sorted(
            (entry["line"], entry["quantity"]) for entry in earlier.lines
        )
        if earlier.order_id != order_id or not same_lines:
            raise Conflict("This idempotency key made another shipment.", field="input.idempotencyKey")
        self.metrics.shipment("replayed")
        return earlier

    # --- changing ---

    async def _change(
        self, raw_id: object, change: Callable[[Shipment, FulfillmentOrder], Awaitable[bool]], action: str
    ) -> Shipment:
        """Apply `change` to the shipment under its order's lock; `change` answers False for a repeat (nothing
        changed: no event). Emits the status's event with the order's fulfillment before and after."""
        shipment_id = parse_uuid(raw_id, "id", "a shipment id")
        seen = await repository.get_shipment(self.session, shipment_id)
        if seen is None:
            raise NotFound("No such shipment.", field="id")
        await repository.lock_order(self.session, seen.order_id)
        shipments = await repository.shipments_of_orders(self.session, [seen.order_id], for_update=True)
        shipment = next(row for row in shipments if row.id == shipment_id)
        order = await repository.get_fulfillment_order(self.session, shipment.order_id)
        assert order is not None  # a shipment's order row is made before it, and never deleted
        previous = fulfillment_status(order.lines, shipments)
        if not await change(shipment, order):
            self.metrics.shipment("replayed")
            return shipment
        shipment.updated_at = _now()
        await self.session.flush()
        await events.shipment_changed(
            self.session, shipment, order, fulfillment_status(order.lines, shipments), previous
        )
        self.metrics.shipment(action)
        return shipment

    async def mark_shipped(
        self, raw_id: object, carrier: object, tracking_number: object, tracking_url: object | None
    ) -> Shipment:
        tracking = clean_tracking(carrier, tracking_number, tracking_url)

        async def ship(shipment: Shipment, order: FulfillmentOrder) -> bool:
            if shipment.status in (ShipmentStatus.SHIPPED, ShipmentStatus.DELIVERED):
                given = Tracking(
                    shipment.carrier or "", shipment.tracking_number or "", shipment.tracking_url
                )
                if given == tracking:
                    return False
                raise Conflict(
                    "The shipment was shipped with another carrier or tracking.",
                    field="id",
                    status=shipment.status,
                    reason="ALREADY_SHIPPED",
                )
            if shipment.status != ShipmentStatus.PENDING:
                raise _conflict(shipment, ShipmentStatus.SHIPPED)
            # Orders' leave first (it refuses a cancelled order), before this change commits: an order never
            # has a parcel on its way that orders would still let the customer cancel.
            await self.state.orders.begin_order_shipment(shipment.order_id, shipment.id)
            shipment.status = ShipmentStatus.SHIPPED
            shipment.carrier, shipment.tracking_number = tracking.carrier, tracking.tracking_number
            shipment.tracking_url = tracking.tracking_url
            shipment.shipped_at = _now()
            return True

        return await self._change(raw_id, ship, "shipped")

    async def mark_delivered(self, raw_id: object) -> Shipment:
        async def deliver(shipment: Shipment, order: FulfillmentOrder) -> bool:
            if shipment.status == ShipmentStatus.DELIVERED:
                return False
            if shipment.status != ShipmentStatus.SHIPPED:
                raise _conflict(shipment, ShipmentStatus.DELIVERED)
            shipment.status, shipment.delivered_at = ShipmentStatus.DELIVERED, _now()
            return True

        return await self._change(raw_id, deliver, "delivered")

    async def mark_returned(self, raw_id: object, raw_reason: object) -> Shipment:
        reason = clean_return_reason(raw_reason)

        async def give_back(shipment: Shipment, order: FulfillmentOrder) -> bool:
            if shipment.status == ShipmentStatus.RETURNED:
                return False
            if shipment.status != ShipmentStatus.SHIPPED:
                raise _conflict(shipment, ShipmentStatus.RETURNED)
            shipment.status, shipment.returned_at = ShipmentStatus.RETURNED, _now()
            shipment.return_reason = reason
            return True

        return await self._change(raw_id, give_back, "returned")

    async def cancel(self, raw_id: object) -> Shipment:
        async def call_off(shipment: Shipment, order: FulfillmentOrder) -> bool:
            if shipment.status == ShipmentStatus.CANCELLED:
                return False
            if shipment.status != ShipmentStatus.PENDING:
                raise _conflict(shipment, ShipmentStatus.CANCELLED)
            shipment.status, shipment.cancelled_at = ShipmentStatus.CANCELLED, _now()
            return True

        return await self._change(raw_id, call_off, "cancelled")


async def cancel_pending_of_order(
    session: AsyncSession, order_id: uuid.UUID, metrics: ShippingMetrics
) -> int:
    """Orders' `OrderCancelled`: the order's PENDING shipments become CANCELLED (ShipmentCancelled each).
    Under the order's lock, so a shipment being made for it now is waited for and cancelled too."""
    await repository.lock_order(session, order_id)
    order = await repository.get_fulfillment_order(session, order_id)
    if order is None:
        return 0
    shipments = await repository.shipments_of_orders(session, [order_id], for_update=True)
    cancelled = 0
    for shipment in shipments:
        if shipment.status != ShipmentStatus.PENDING:
            continue
        previous = fulfillment_status(order.lines, shipments)
        now = _now()
        shipment.status, shipment.cancelled_at, shipment.updated_at = ShipmentStatus.CANCELLED, now, now
        await session.flush()
        await events.shipment_changed(
            session, shipment, order, fulfillment_status(order.lines, shipments), previous
        )
        cancelled += 1
    metrics.shipment("cancelled", cancelled)
    return cancelled
