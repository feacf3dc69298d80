"""Shipments in the shipping subgraph's schema: `Shipment` (an entity), `Order.shipments` and
`Order.fulfillmentStatus` (shipping extends orders' `Order`), `shipment`/`shipments`, and the staff's
mutations. The rules are shipments.py's and fulfillment.py's, written in their docstrings."""

from __future__ import annotations

import enum
from datetime import datetime

import strawberry
from strawberry.federation.schema_directives import Cost, Key, ListSize
from strawberry.types import Info

from shared.auth.permissions import IsAdminOrPartner, guarded
from shared.fulfillment import FulfillmentStatus
from shared.pagination import Connection, connection
from subgraphs.shipping import models
from subgraphs.shipping.fulfillment import MAX_SHIPMENT_LINES
from subgraphs.shipping.shipments import ShipmentPage, ShipmentService

# Demand control: typical sizes, not the caps (a shipment holds at most MAX_SHIPMENT_LINES lines).
SHIPMENT_LINES = ListSize(assumed_size=5)
ORDER_SHIPMENTS = ListSize(assumed_size=3)


@strawberry.enum(description="Where a shipment stands.")
class ShipmentStatus(enum.Enum):
    PENDING = strawberry.enum_value(models.ShipmentStatus.PENDING, description="Packed, not with a carrier.")
    SHIPPED = strawberry.enum_value(models.ShipmentStatus.SHIPPED, description="With the carrier.")
    DELIVERED = strawberry.enum_value(models.ShipmentStatus.DELIVERED, description="The customer has it.")
    RETURNED = strawberry.enum_value(
        models.ShipmentStatus.RETURNED,
        description="Came back to the sender undelivered: its quantities may be shipped again.",
    )
    CANCELLED = strawberry.enum_value(models.ShipmentStatus.CANCELLED, description="Never left.")


@strawberry.enum(
    description=(
        "How much of an order has left (shipping's rule, per order line: shipped = in SHIPPED or "
        "DELIVERED shipments). UNFULFILLED: nothing shipped; FULFILLED: every line fully shipped; "
        "DELIVERED: every line fully delivered; PARTIALLY_FULFILLED otherwise."
    )
)
class OrderFulfillmentStatus(enum.Enum):
    UNFULFILLED = FulfillmentStatus.UNFULFILLED.value
    PARTIALLY_FULFILLED = FulfillmentStatus.PARTIALLY_FULFILLED.value
    FULFILLED = FulfillmentStatus.FULFILLED.value
    DELIVERED = FulfillmentStatus.DELIVERED.value


@strawberry.federation.type(keys=[Key(fields="id", resolvable=False)])
class Product:
    id: strawberry.ID


@strawberry.federation.type(keys=[Key(fields="id", resolvable=False)])
class ProductVariant:
    id: strawberry.ID


@strawberry.type(description="Some units of one order line in a shipment (as the order names them).")
class ShipmentLine:
    line: int = strawberry.field(description="The order line's number (`OrderItem.line`).")
    product: Product
    variant: ProductVariant
    sku: str | None
    product_name: str
    variant_label: str | None
    quantity: int


@strawberry.federation.type(
    keys=["id"],
    description="A parcel of some of an order's lines; its order's customer and staff see it.",
)
class Shipment:
    id: strawberry.ID
    row: strawberry.Private[models.Shipment]

    @strawberry.field
    def order(self) -> Order:
        return Order(id=strawberry.ID(str(self.row.order_id)))

    @strawberry.field
    def status(self) -> ShipmentStatus:
        return ShipmentStatus(self.row.status)

    @strawberry.field(description="By order line.", directives=[SHIPMENT_LINES])
    def lines(self) -> list[ShipmentLine]:
        return [
            ShipmentLine(
                line=entry["line"],
                product=Product(id=strawberry.ID(entry["productId"])),
                variant=ProductVariant(id=strawberry.ID(entry["variantId"])),
                sku=entry.get("sku"),
                product_name=entry["productName"],
                variant_label=entry.get("variantLabel"),
                quantity=entry["quantity"],
            )
            for entry in self.row.lines
        ]

    @strawberry.field(description="Who carries it; null until SHIPPED.")
    def carrier(self) -> str | None:
        return self.row.carrier

    @strawberry.field(description="The carrier's number of the parcel; null until SHIPPED.")
    def tracking_number(self) -> str | None:
        return self.row.tracking_number

    @strawberry.field(
        description="Where the customer follows it: the URL given, or a known carrier's page; else null."
    )
    def tracking_url(self) -> str | None:
        return self.row.tracking_url

    @strawberry.field(description="Why it came back (RETURNED only).")
    def return_reason(self) -> str | None:
        return self.row.return_reason

    @strawberry.field
    def created_at(self) -> datetime:
        return self.row.created_at

    @strawberry.field
    def shipped_at(self) -> datetime | None:
        return self.row.shipped_at

    @strawberry.field
    def delivered_at(self) -> datetime | None:
        return self.row.delivered_at

    @strawberry.field
    def returned_at(self) -> datetime | None:
        return self.row.returned_at

    @strawberry.field
    def cancelled_at(self) -> datetime | None:
        return self.row.cancelled_at

    @strawberry.field
    def updated_at(self) -> datetime:
        return self.row.updated_at

    @classmethod
    def from_row(cls, row: models.Shipment) -> Shipment:
        return cls(id=strawberry.ID(str(row.id)), row=row)

    @classmethod
    async def resolve_reference(cls, info: Info, id: strawberry.ID) -> Shipment | None:
        return _optional(await ShipmentService(info.context).get_shipment(id))


def _optional(row: models.Shipment | None) -> Shipment | None:
    return Shipment.from_row(row) if row is not None else None


@strawberry.federation.type(keys=["id"], description="An order (owned by orders), as shipping knows it.")
class Order:
    id: strawberry.ID

    @strawberry.field(
        description="Its shipments, oldest first; the order's customer or staff.",
        directives=[ORDER_SHIPMENTS],
    )
    async def shipments(self, info: Info) -> list[Shipment]:
        found = await ShipmentService(info.context).of_order(self.id)
        return [Shipment.from_row(row) for row in found.shipments]

    @strawberry.field(description="How much of it has left (UNFULFILLED before any shipment).")
    async def fulfillment_status(self, info: Info) -> OrderFulfillmentStatus:
        found = await ShipmentService(info.context).of_order(self.id)
        return OrderFulfillmentStatus(found.fulfillment)

    @classmethod
    def resolve_reference(cls, id: strawberry.ID) -> Order:
        # Nothing read for the order itself: its shipments are loaded (batched) when asked for.
        return cls(id=id)


@strawberry.input(description="Units of one order line to ship.")
class ShipmentLineInput:
    line: int = strawberry.field(description="The order line's number (`OrderItem.line`).")
    quantity: int = strawberry.field(description="From 1 to what is left to ship of the line.")


@strawberry.input(description=f"A shipment of 1 to {MAX_SHIPMENT_LINES} of an order's lines.")
class CreateShipmentInput:
    order_id: strawberry.ID
    lines: list[ShipmentLineInput]
    idempotency_key: str = strawberry.field(
        description="Yours (per caller): a repeat with it answers the shipment it made."
    )


def _connection(page: ShipmentPage) -> Connection[Shipment]:
    cursors = {str(row.id): page.cursor_of(row) for row in page.shipments}
    return connection(
        [Shipment.from_row(row) for row in page.shipments],
        size=page.size,
        cursor_of=lambda node: cursors[str(node.id)],
        has_previous=page.has_previous,
    )


@strawberry.type
class ShipmentQuery:
    @strawberry.field(description="A shipment: its order's customer, PARTNER or ADMIN; null when none.")
    async def shipment(self, info: Info, id: strawberry.ID) -> Shipment | None:
        return _optional(await ShipmentService(info.context).get_shipment(id))

    @strawberry.field(
        **guarded(IsAdminOrPartner, ListSize(slicing_arguments=["first"], sized_fields=["edges", "nodes"])),
        description="All shipments, newest first, optionally of one status (PARTNER or ADMIN).",
    )
    async def shipments(
        self,
        info: Info,
        status: ShipmentStatus | None = None,
        first: int | None = 20,
        after: str | None = None,
    ) -> Connection[Shipment]:
        page = await ShipmentService(info.context).list_shipments(
            status=status.value if status is not None else None, first=first, after=after
        )
        return _connection(page)


@strawberry.type
class ShipmentMutation:
    @strawberry.mutation(
        **guarded(IsAdminOrPartner, Cost(weight=10)),
        description=(
            "A PENDING shipment of some of a CONFIRMED order's lines (PARTNER or ADMIN). Refused: NOT_FOUND "
            "(no such order), ORDER_NOT_SHIPPABLE (with `status`), BAD_USER_INPUT naming the line (unknown, "
            "quantity below 1 or above what is left to ship, with `ordered` and `left`)."
        ),
    )
    async def create_shipment(self, info: Info, input: CreateShipmentInput) -> Shipment:
        row = await ShipmentService(info.context).create(
            input.order_id, [(line.line, line.quantity) for line in input.lines], input.idempotency_key
        )
        return Shipment.from_row(row)

    @strawberry.mutation(
        **guarded(IsAdminOrPartner, Cost(weight=10)),
        description=(
            "PENDING → SHIPPED with its carrier and tracking (PARTNER or ADMIN). Without `trackingUrl`, a "
            "known carrier's tracking page (DHL, UPS, FedEx, USPS, DPD, GLS, Royal Mail, PostNL, ...); a "
            "given one is an http(s) URL. The same values again answer the same; other values: CONFLICT. "
            "Orders must agree (ORDER_NOT_SHIPPABLE for a cancelled order)."
        ),
    )
    async def mark_shipment_shipped(
        self,
        info: Info,
        id: strawberry.ID,
        carrier: str,
        tracking_number: str,
        tracking_url: str | None = None,
    ) -> Shipment:
        service = ShipmentService(info.context)
        return Shipment.from_row(await service.mark_shipped(id, carrier, tracking_number, tracking_url))

    @strawberry.mutation(
        **guarded(IsAdminOrPartner),
        description="SHIPPED → DELIVERED (PARTNER or ADMIN); a repeat answers the same.",
    )
    async def mark_shipment_delivered(self, info: Info, id: strawberry.ID) -> Shipment:
        return Shipment.from_row(await ShipmentService(info.context).mark_delivered(id))

    @strawberry.mutation(
        **guarded(IsAdminOrPartner),
        description=(
            "SHIPPED → RETURNED: it came back undelivered, and its units may be shipped again (PARTNER or "
            "ADMIN); a repeat answers the same."
        ),
    )
    async def mark_shipment_returned(self, info: Info, id: strawberry.ID, reason: str) -> Shipment:
        return Shipment.from_row(await ShipmentService(info.context).mark_returned(id, reason))

    @strawberry.mutation(
        **guarded(IsAdminOrPartner),
        description="PENDING → CANCELLED (PARTNER or ADMIN); a repeat answers the same.",
    )
    async def cancel_shipment(self, info: Info, id: strawberry.ID) -> Shipment:
        return Shipment.from_row(await ShipmentService(info.context).cancel(id))


TYPES = [Shipment, Order]
