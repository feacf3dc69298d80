"""The internal operations orders serves shipping (merged into the orders schema by schema.py): an order's
lines for a shipment, and the mark that the order has begun to ship. @inaccessible (the router never exposes
them) and SERVICE only."""

from __future__ import annotations

import enum
from datetime import datetime

import strawberry
from strawberry.federation.schema_directives import ListSize
from strawberry.types import Info

from shared.auth.permissions import IsService, guarded
from subgraphs.orders.fulfillment import FulfillmentService, FulfillmentView
from subgraphs.orders.order_price import variant_label


@strawberry.enum(
    description="How much of an order has shipped and arrived (shipping's rule, `Order.fulfillmentStatus`): "
    "UNFULFILLED, nothing shipped; FULFILLED, every line fully shipped; DELIVERED, every line fully "
    "delivered; "
    "else PARTIALLY_FULFILLED."
)
class OrderFulfillmentStatus(enum.Enum):
    UNFULFILLED = "UNFULFILLED"
    PARTIALLY_FULFILLED = "PARTIALLY_FULFILLED"
    FULFILLED = "FULFILLED"
    DELIVERED = "DELIVERED"


@strawberry.enum(
    description="What an `OrderUpdate` tells: a change of the order's status, or of its fulfillment."
)
class OrderUpdateKind(enum.Enum):
    STATUS = "STATUS"
    FULFILLMENT = "FULFILLMENT"


@strawberry.federation.type(inaccessible=True, description="An order line as shipping ships it.")
class FulfillmentLine:
    line: int = strawberry.field(description="Its place in the order, from 1 (`OrderItem.line`).")
    product_id: strawberry.ID
    variant_id: strawberry.ID
    sku: str | None = strawberry.field(description="As frozen; null on lines older than variants.")
    product_name: str
    variant_label: str | None = strawberry.field(description="`M / Red`; null for a product sold as one.")
    quantity: int


@strawberry.federation.type(inaccessible=True, description="An order as shipping needs it (SERVICE).")
class FulfillmentOrder:
    id: strawberry.ID
    user_id: strawberry.ID
    status: str = strawberry.field(description="The order's status (OrderStatus's values).")
    currency: str
    created_at: datetime
    shipped_at: datetime | None = strawberry.field(
        description="When its first parcel shipped (`beginOrderShipment`): from then on no cancellation."
    )
    lines: list[FulfillmentLine] = strawberry.field(directives=[ListSize(assumed_size=10)])

    @classmethod
    def of(cls, view: FulfillmentView) -> FulfillmentOrder:
        order = view.order
        return cls(
            id=strawberry.ID(str(order.id)),
            user_id=strawberry.ID(str(order.user_id)),
            status=order.status,
            currency=order.currency,
            created_at=order.created_at,
            shipped_at=order.shipped_at,
            lines=[
                FulfillmentLine(
                    line=item.line,
                    product_id=strawberry.ID(str(item.product_id)),
                    variant_id=strawberry.ID(str(item.variant_id)),
                    sku=item.sku,
                    product_name=item.product_name,
                    variant_label=variant_label(item.selected_options),
                    quantity=item.quantity,
                )
                for item in view.items
            ],
        )


@strawberry.type
class FulfillmentQuery:
    @strawberry.federation.field(
        inaccessible=True,
        **guarded(IsService),
        description="An order and its lines for shipping (SERVICE); null when there is no such order.",
    )
    async def fulfillment_order(self, info: Info, order_id: strawberry.ID) -> FulfillmentOrder | None:
        view = await FulfillmentService(info.context).fulfillment_order(order_id)
        return FulfillmentOrder.of(view) if view is not None else None


@strawberry.type
class FulfillmentMutation:
    @strawberry.federation.mutation(
        inaccessible=True,
        **guarded(IsService),
        description=(
            "Shipping ships a parcel of the order (SERVICE): under the order's lock, sets `shippedAt` the "
            "first time (then `cancelOrder` refuses with ORDER_SHIPPED); a repeat answers the same. "
            "ORDER_NOT_SHIPPABLE (with `status`) unless the order is CONFIRMED and not being cancelled."
        ),
    )
    async def begin_order_shipment(
        self, info: Info, order_id: strawberry.ID, shipment_id: strawberry.ID
    ) -> FulfillmentOrder:
        return FulfillmentOrder.of(
            await FulfillmentService(info.context).begin_shipment(order_id, shipment_id)
        )
