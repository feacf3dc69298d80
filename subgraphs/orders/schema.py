"""The orders subgraph's GraphQL schema: thin resolvers over `OrderService`."""

from __future__ import annotations

import enum
from collections.abc import AsyncGenerator, AsyncIterator
from contextlib import aclosing
from datetime import datetime

import strawberry
from strawberry.federation.schema_directives import Cost, ListSize
from strawberry.types import Info

from shared.deadletters import dead_letter_mutation, dead_letter_query
from shared.graphql import build_schema
from shared.graphql_types import Money
from shared.pagination import Connection, connection
from shared.selections import selects
from subgraphs.orders import models
from subgraphs.orders.cart_schema import Cart, CartAddress, CartMutation, CartQuery
from subgraphs.orders.checkout import CheckoutService
from subgraphs.orders.checkout_schema import (
    ROUNDING,
    TAX_RULE,
    TOTAL_RULE,
    OrderShippingMethod,
    TaxLine,
    tax_lines_of,
)
from subgraphs.orders.feed import OrderChange
from subgraphs.orders.fulfillment_schema import (
    FulfillmentMutation,
    FulfillmentQuery,
    OrderFulfillmentStatus,
    OrderUpdateKind,
)
from subgraphs.orders.order_price import variant_label
from subgraphs.orders.privacy import PersonalDataExport
from subgraphs.orders.promotion_schema import PromotionMutation, PromotionQuery
from subgraphs.orders.references import Product, ProductVariant
from subgraphs.orders.returns import ReturnService
from subgraphs.orders.returns_schema import Return, ReturnMutation, ReturnQuery, returns_of_rows
from subgraphs.orders.service import OrderPage, OrderService
from subgraphs.orders.tax_schema import TaxMutation, TaxQuery
from subgraphs.orders.watching import OrderWatch


@strawberry.enum(description="Where an order stands in its saga; CONFIRMED, CANCELLED and FAILED are final.")
class OrderStatus(enum.Enum):
    PENDING = "PENDING"
    INVENTORY_RESERVED = "INVENTORY_RESERVED"
    PAYMENT_AUTHORIZED = "PAYMENT_AUTHORIZED"
    CONFIRMED = "CONFIRMED"
    CANCELLED = "CANCELLED"
    FAILED = "FAILED"


@strawberry.type(description="One line of an order, its price frozen when the order was placed.")
class OrderItem:
    # Each field reads the row when asked: a page of orders' lines builds no Money nobody selected.
    row: strawberry.Private[models.OrderItem]

    @strawberry.field(
        description="Its place in the order, from 1: what shipments and returns name a line by."
    )
    def line(self) -> int:
        return self.row.line

    @strawberry.field
    def product(self) -> Product:
        return Product(id=strawberry.ID(str(self.row.product_id)))

    @strawberry.field(
        description="The variant sold (for an order older than variants, its product's one variant, which "
        "shares the product's id)."
    )
    def variant(self) -> ProductVariant:
        return ProductVariant(id=strawberry.ID(str(self.row.variant_id)))

    @strawberry.field(description="The product's name when the order was placed.")
    def product_name(self) -> str:
        return self.row.product_name

    @strawberry.field(
        description="The variant's SKU when the order was placed; null on orders older than variants."
    )
    def sku(self) -> str | None:
        return self.row.sku

    @strawberry.field(
        description="The variant's option values when the order was placed (`M / Red`); null for a product "
        "sold as one thing and on orders older than variants."
    )
    def variant_label(self) -> str | None:
        return variant_label(self.row.selected_options)

    @strawberry.field
    def quantity(self) -> int:
        return self.row.quantity

    @strawberry.field
    def unit_price(self) -> Money:
        return Money(amount=self.row.unit_price_amount, currency=self.row.currency)

    @strawberry.field(description="Unit price x quantity, before discount and tax.")
    def line_total(self) -> Money:
        return Money(amount=self.row.unit_price_amount * self.row.quantity, currency=self.row.currency)

    @strawberry.field(description=f"Its share of the order's discounts. {ROUNDING}")
    def discount(self) -> Money:
        return Money(amount=self.row.discount_amount or 0, currency=self.row.currency)

    @strawberry.field(description=TAX_RULE)
    def tax(self) -> Money:
        return Money(amount=self.row.tax_amount or 0, currency=self.row.currency)

    @strawberry.field(description="Null on orders placed before taxes existed.")
    def tax_class(self) -> str | None:
        return self.row.tax_class

    @strawberry.field(description="Basis points (2000 = 20%), as frozen.")
    def tax_rate_bp(self) -> int | None:
        return self.row.tax_rate_bp

    @strawberry.field(description="After discount, with tax: what the line cost.")
    def total(self) -> Money:
        row = self.row
        amount = row.total_amount if row.total_amount is not None else row.unit_price_amount * row.quantity
        return Money(amount=amount, currency=row.currency)


@strawberry.type(description=f"A promotion or voucher as frozen on an order. {ROUNDING}")
class OrderDiscount:
    promotion_id: strawberry.ID
    code: str | None = strawberry.field(description="The voucher's code; null for an automatic promotion.")
    name: str
    amount: Money


@strawberry.type(description="A change of an order's status, with why.")
class OrderStatusChange:
    status: OrderStatus
    reason: str | None
    at: datetime


@strawberry.federation.type(keys=["id"], description="An order placed by a customer.")
class Order:
    id: strawberry.ID
    total: Money
    status: OrderStatus
    failure_code: str | None = strawberry.field(description="Why it was cancelled or failed (a stable code).")
    failure_reason: str | None
    created_at: datetime
    updated_at: datetime
    row: strawberry.Private[models.Order]
    # Its lines when they were read with its page (`OrderPage.lines`); None: loaded when asked for.
    lines: strawberry.Private[list[models.OrderItem] | None] = None

    @strawberry.field
    def user(self) -> User:
        return User(id=strawberry.ID(str(self.row.user_id)))

    @strawberry.field(directives=[ListSize(assumed_size=10)])  # demand control: a typical order's lines
    def items(self, info: Info) -> list[OrderItem]:
        if self.lines is not None:  # read with its page: answered without an await per order
            return [OrderItem(row=item) for item in self.lines]
        # Otherwise an awaitable, which graphql-core awaits: the lines load batched with the other orders'.
        return self._load_items(info)  # type: ignore[return-value]

    async def _load_items(self, info: Info) -> list[OrderItem]:
        return [OrderItem(row=item) for item in await OrderService(info.context).items(self.row)]

    @strawberry.field(description="Before discounts, shipping and tax (0 on orders older than checkout).")
    def subtotal(self) -> Money:
        return Money(amount=self.row.subtotal_amount or 0, currency=self.row.currency)

    @strawberry.field(description=f"The lines' discounts. {ROUNDING}")
    def discount_total(self) -> Money:
        return Money(amount=self.row.discount_amount or 0, currency=self.row.currency)

    @strawberry.field(description="The shipping price charged (0 for a direct purchase).")
    def shipping_price(self) -> Money:
        return Money(amount=self.row.shipping_amount or 0, currency=self.row.currency)

    @strawberry.field(description=TAX_RULE)
    def tax_total(self) -> Money:
        return Money(amount=self.row.tax_amount or 0, currency=self.row.currency)

    @strawberry.field(
        description=f"Whether its prices included tax when it was placed. `total` = {TOTAL_RULE}"
    )
    def prices_include_tax(self) -> bool:
        return bool(self.row.prices_include_tax)

    @strawberry.field(
        description="The promotions and voucher it was placed with.", directives=[ListSize(assumed_size=2)]
    )
    def discounts(self) -> list[OrderDiscount]:
        return [
            OrderDiscount(
                promotion_id=strawberry.ID(str(d["promotionId"])),
                code=d.get("code"),  # type: ignore[arg-type]
                name=str(d["name"]),
                amount=Money(amount=int(d["amount"]), currency=self.row.currency),  # type: ignore[call-overload]
            )
            for d in self.row.discounts or []
        ]

    @strawberry.field(
        description="The tax per (tax class, rate), as frozen.", directives=[ListSize(assumed_size=3)]
    )
    def tax_lines(self) -> list[TaxLine]:
        return tax_lines_of(self.row.tax_lines or [], self.row.currency)

    @strawberry.field(description="The method it ships with (null for a direct purchase).")
    def shipping_method(self) -> OrderShippingMethod | None:
        method = self.row.shipping_method
        if not method:
            return None
        return OrderShippingMethod(
            id=strawberry.ID(method["id"]),
            name=method["name"],
            price=Money(amount=self.row.shipping_amount or 0, currency=self.row.currency),
        )

    @strawberry.field(description="A copy of the cart's shipping address (null for a direct purchase).")
    def shipping_address(self) -> CartAddress | None:
        return CartAddress.of(self.row.shipping_address)

    @strawberry.field(description="A copy of the billing address (the shipping one when none was given).")
    def billing_address(self) -> CartAddress | None:
        return CartAddress.of(self.row.billing_address)

    @strawberry.field(description="The cart it was checked out from (null for a direct purchase).")
    def cart_id(self) -> strawberry.ID | None:
        return strawberry.ID(str(self.row.cart_id)) if self.row.cart_id else None

    @strawberry.field(
        description="Every status the order went through, oldest first.",
        directives=[ListSize(assumed_size=6)],  # demand control: a saga passes at most 6 statuses
    )
    async def status_history(self, info: Info) -> list[OrderStatusChange]:
        return [
            OrderStatusChange(status=OrderStatus(change.status), reason=change.reason, at=change.at)
            for change in await OrderService(info.context).history(self.row)
        ]

    @strawberry.field(
        description="Its returns, oldest first (its customer, ADMIN or PARTNER).",
        directives=[ListSize(assumed_size=2)],
    )
    async def returns(self, info: Info) -> list[Return]:
        return returns_of_rows(await ReturnService(info.context).returns_of(self.row))

    @classmethod
    def from_row(
        cls, row: models.Order, *, status: str | None = None, lines: list[models.OrderItem] | None = None
    ) -> Order:
        return cls(
            id=strawberry.ID(str(row.id)),
            total=Money(amount=row.total_amount, currency=row.currency),
            status=OrderStatus(status or row.status),
            failure_code=row.failure_code,
            failure_reason=row.failure_reason,
            created_at=row.created_at,
            updated_at=row.updated_at,
            row=row,
            lines=lines,
        )

    @classmethod
    async def resolve_reference(cls, info: Info, id: strawberry.ID) -> Order | None:
        row = await OrderService(info.context).get_order(id)
        return cls.from_row(row) if row is not None else None


@strawberry.federation.type(keys=["id"])
class User:
    id: strawberry.ID

    @strawberry.field(
        description="The user's orders, newest first (the user themself, ADMIN or PARTNER).",
        directives=[ListSize(slicing_arguments=["first"], sized_fields=["edges", "nodes"])],
    )
    async def orders(self, info: Info, first: int | None = 20, after: str | None = None) -> Connection[Order]:
        service = OrderService(info.context)
        page = await service.user_orders(self.id, first=first, after=after, with_lines=_with_lines(info))
        return _connection(page)

    @classmethod
    def resolve_reference(cls, id: strawberry.ID) -> User:
        return cls(id=id)


def _connection(page: OrderPage) -> Connection[Order]:
    cursors = {str(order.id): page.cursor_of(order) for order in page.orders}
    lines = page.lines or {}
    return connection(
        [Order.from_row(order, lines=lines.get(order.id)) for order in page.orders],
        size=page.size,
        cursor_of=lambda node: cursors[node.id],
        has_previous=page.has_previous,
    )


def _with_lines(info: Info) -> bool:
    """Whether a connection of orders is asked for their lines: its page then reads them in one statement."""
    return selects(info, "edges", "node", "items") or selects(info, "nodes", "items")


@strawberry.input(
    description="A line: `variantId` (what is sold), or `productId` alone for a product with one active "
    "variant (VARIANT_REQUIRED otherwise); both given must agree (BAD_USER_INPUT, reason VARIANT_MISMATCH)."
)
class OrderItemInput:
    product_id: strawberry.ID | None = None
    variant_id: strawberry.ID | None = None
    quantity: int


@strawberry.input
class PlaceOrderInput:
    items: list[OrderItemInput]
    payment_method: str = strawberry.field(description="A payment method token (see README: sandbox tokens).")
    idempotency_key: str = strawberry.field(
        description="Chosen by the client, one per order: a retry with the same key returns the same order."
    )


@strawberry.type
class Query(  # type: ignore[misc]
    CartQuery, TaxQuery, PromotionQuery, FulfillmentQuery, ReturnQuery, dead_letter_query("order")
):
    @strawberry.field(description="An order by id: its customer, ADMIN or PARTNER; null when there is none.")
    async def order(self, info: Info, id: strawberry.ID) -> Order | None:
        row = await OrderService(info.context).get_order(id)
        return Order.from_row(row) if row is not None else None

    @strawberry.field(
        description="All orders, newest first, optionally of one status (ADMIN or PARTNER).",
        directives=[ListSize(slicing_arguments=["first"], sized_fields=["edges", "nodes"])],
    )
    async def orders(
        self, info: Info, status: OrderStatus | None = None, first: int | None = 20, after: str | None = None
    ) -> Connection[Order]:
        page = await OrderService(info.context).list_orders(
            status=status.value if status is not None else None,
            first=first,
            after=after,
            with_lines=_with_lines(info),
        )
        return _connection(page)


@strawberry.type
class Mutation(  # type: ignore[misc]
    CartMutation,
    TaxMutation,
    PromotionMutation,
    FulfillmentMutation,
    ReturnMutation,
    dead_letter_mutation("order"),
):
    @strawberry.mutation(
        description=(
            "Place an order: prices come from the catalog now, stock is reserved, the payment charged. "
            "Answers the CONFIRMED order, or an error whose code says why not (OUT_OF_STOCK, "
            "PAYMENT_DECLINED, ...) with `extensions.orderId`."
        ),
        # Demand control: a saga (reserve stock, charge, confirm) costs like reading fifty objects.
        directives=[Cost(weight=50)],
    )
    async def place_order(self, info: Info, input: PlaceOrderInput) -> Order:
        row = await OrderService(info.context).place_order(
            items=[(item.product_id, item.variant_id, item.quantity) for item in input.items],
            payment_method=input.payment_method,
            idempotency_key=input.idempotency_key,
        )
        return Order.from_row(row)

    @strawberry.mutation(
        description=(
            "Check out your cart (signed in): validated (CART_EMPTY, LINE_UNAVAILABLE, "
            "SHIPPING_ADDRESS_REQUIRED, SHIPPING_METHOD_REQUIRED, SHIPPING_METHOD_UNAVAILABLE, VOUCHER_* as "
            "`extensions.reason`), priced "
            "now and frozen on the order, then run like placeOrder (same key, same order). Answers the "
            "CONFIRMED order, or an error whose code says why not."
        ),
        directives=[Cost(weight=50)],  # demand control: like placeOrder, a saga
    )
    async def checkout_complete(
        self, info: Info, cart_id: strawberry.ID, payment_method: str, idempotency_key: str
    ) -> Order:
        row = await CheckoutService(info.context).complete(cart_id, payment_method, idempotency_key)
        return Order.from_row(row)

    @strawberry.mutation(
        description="Cancel a confirmed order (its customer or an admin): refund and restock. Refused once a "
        "parcel has shipped: ORDER_SHIPPED, with `extensions.suggestion` `requestReturn`.",
        directives=[Cost(weight=20)],  # demand control: the saga's compensation (refund, restock)
    )
    async def cancel_order(self, info: Info, id: strawberry.ID) -> Order:
        return Order.from_row(await OrderService(info.context).cancel_order(id))


@strawberry.type(
    description="A change of an order's status (STATUS) or of its fulfillment (FULFILLMENT: a shipment "
    "shipped, delivered or returned), as `orderUpdates` delivers it."
)
class OrderUpdate:
    cursor: str = strawberry.field(
        description="Where this update sits in the feed: `orderUpdates(after:)` resumes right after it."
    )
    order: Order = strawberry.field(description="The order; its `status` is the one of this change.")
    kind: OrderUpdateKind
    status: OrderStatus = strawberry.field(
        description="The status it changed to; for a FULFILLMENT update the order's status now."
    )
    previous_status: OrderStatus | None = strawberry.field(
        description="Null when the order was just placed; for a FULFILLMENT update the same as `status`."
    )
    fulfillment_status: OrderFulfillmentStatus | None = strawberry.field(
        description="The order's fulfillment after a FULFILLMENT update; null for a STATUS one."
    )
    shipment_id: strawberry.ID | None = strawberry.field(
        description="The shipment that moved a FULFILLMENT update; null for a STATUS one."
    )
    reason: str | None
    changed_at: datetime

    @classmethod
    def from_change(cls, change: OrderChange) -> OrderUpdate:
        assert change.cursor is not None
        return cls(
            cursor=change.cursor,
            order=Order.from_row(change.order, status=change.status),
            kind=OrderUpdateKind(change.kind),
            status=OrderStatus(change.status),
            previous_status=OrderStatus(change.previous_status) if change.previous_status else None,
            fulfillment_status=(
                OrderFulfillmentStatus(change.fulfillment_status) if change.fulfillment_status else None
            ),
            shipment_id=strawberry.ID(change.shipment_id) if change.shipment_id else None,
            reason=change.reason,
            changed_at=change.at,
        )


@strawberry.type
class Subscription:
    @strawberry.subscription(
        description=(
            "One order's changes (its customer, ADMIN or PARTNER), each as the order at that change: first "
            "the statuses it already went through, then each change as it happens, of its status or of its "
            "fulfillment (a shipment shipped, delivered or returned); completes once the order is CANCELLED "
            "or FAILED, or DELIVERED (every line delivered), at once after its history when it already is "
            "(a delivered order's history ends with the order once more). A CONFIRMED order's subscription "
            "stays "
            "open for its shipments."
        )
    )
    async def order_status_changed(self, info: Info, order_id: strawberry.ID) -> AsyncGenerator[Order, None]:
        changes = await OrderWatch(info.context).watch_order(order_id)
        return _orders_of(changes)

    @strawberry.subscription(
        description=(
            "Every change of every order (ADMIN or PARTNER), of its status or of its fulfillment (`kind`): "
            "from now on, or every one after the cursor `after` of an earlier update and then live, so a "
            "client that resumes from its last cursor misses nothing and receives nothing twice."
        )
    )
    async def order_updates(self, info: Info, after: str | None = None) -> AsyncGenerator[OrderUpdate, None]:
        changes = await OrderWatch(info.context).order_updates(after)
        return _updates_of(changes)


async def _orders_of(changes: AsyncIterator[OrderChange]) -> AsyncGenerator[Order, None]:
    async with aclosing(changes):
        async for change in changes:
            yield Order.from_row(change.order, status=change.status)


async def _updates_of(changes: AsyncIterator[OrderChange]) -> AsyncGenerator[OrderUpdate, None]:
    async with aclosing(changes):
        async for change in changes:
            yield OrderUpdate.from_change(change)


schema = build_schema(
    query=Query,
    mutation=Mutation,
    subscription=Subscription,
    types=[Order, User, Product, ProductVariant, PersonalDataExport, Cart],
)
