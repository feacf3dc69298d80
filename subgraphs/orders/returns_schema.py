"""Returns in GraphQL: `Return`, `Order.returns` (schema.py), `Query.return/returns`, and the mutations of
their life (request, approve, reject, receive). Thin resolvers over `ReturnService` (returns.py)."""

from __future__ import annotations

import enum
from datetime import datetime
from typing import TYPE_CHECKING, Annotated

import strawberry
from strawberry.federation.schema_directives import Cost, ListSize
from strawberry.types import Info

from shared.graphql_types import Money
from shared.pagination import Connection, connection
from subgraphs.orders import models
from subgraphs.orders.order_price import variant_label
from subgraphs.orders.references import Product, ProductVariant
from subgraphs.orders.returns import ReturnPage, ReturnService

if TYPE_CHECKING:
    from subgraphs.orders.schema import Order

REFUND_RULE = (
    "Each of a line's items (unit price x quantity), discount and tax is shared over its units as "
    "floor(X*(k+q)/n) - floor(X*k/n) for q of its n units, k refunded before, so the returns of a line "
    "add up exactly to it; a line refunds items - discount + tax (tax-exclusive prices) or items - "
    "discount (prices including tax: the tax is inside). Shipping is refunded only by the return that makes "
    "every unit of the order returned. An estimate until the return is RECEIVED, then fixed."
)


@strawberry.enum(
    description="Where a return stands: REQUESTED -> APPROVED | REJECTED; APPROVED -> RECEIVED -> REFUNDED."
)
class ReturnStatus(enum.Enum):
    REQUESTED = "REQUESTED"
    APPROVED = "APPROVED"
    REJECTED = strawberry.enum_value("REJECTED", description="Final: its units count as not returned.")
    RECEIVED = strawberry.enum_value(
        "RECEIVED", description="The units arrived: refund and restock under way."
    )
    REFUNDED = strawberry.enum_value("REFUNDED", description="Final: the money is back, the units on hand.")


@strawberry.type(description=f"What a return gives back, in minor units. {REFUND_RULE}")
class ReturnRefund:
    subtotal: Money = strawberry.field(description="The returned units' share of their lines' prices.")
    discount: Money = strawberry.field(description="Their share of the lines' discounts (taken off).")
    tax: Money = strawberry.field(description="Their share of the lines' tax (inside `total` either way).")
    shipping: Money = strawberry.field(description="The order's shipping (with its tax) or 0.")
    total: Money = strawberry.field(description="What the customer gets back.")


@strawberry.type(description="Units of one order line in a return.")
class ReturnLine:
    line: int = strawberry.field(description="The order line (`OrderItem.line`).")
    product: Product
    variant: ProductVariant
    product_name: str
    variant_label: str | None
    quantity: int
    refund: Money = strawberry.field(description="This line's part of the refund's total (without shipping).")


@strawberry.type(description="A return of delivered units of an order. Its customer and staff see it.")
class Return:
    id: strawberry.ID
    status: ReturnStatus
    reason: str
    rejection_reason: str | None
    created_at: datetime
    updated_at: datetime
    approved_at: datetime | None
    rejected_at: datetime | None
    received_at: datetime | None
    refunded_at: datetime | None
    row: strawberry.Private[models.Return]

    @strawberry.field
    async def order(self, info: Info) -> Annotated[Order, strawberry.lazy("subgraphs.orders.schema")]:
        from subgraphs.orders.schema import Order  # the order's type also lists its returns

        # The reader saw the return: its customer or staff, who may see the order too.
        row = await info.context.loaders.order.load(str(self.row.order_id))
        assert row is not None  # a return's order is never deleted while it exists (cascade)
        return Order.from_row(row)

    @strawberry.field(directives=[ListSize(assumed_size=5)])
    async def lines(self, info: Info) -> list[ReturnLine]:
        service = ReturnService(info.context)
        items = await service.items(self.row)
        currency = self.row.currency
        return [
            ReturnLine(
                line=line.line,
                product=Product(id=strawberry.ID(str(items[line.line].product_id))),
                variant=ProductVariant(id=strawberry.ID(str(items[line.line].variant_id))),
                product_name=items[line.line].product_name,
                variant_label=variant_label(items[line.line].selected_options),
                quantity=line.quantity,
                refund=Money(amount=line.refund, currency=currency),
            )
            for line in await service.lines(self.row)
        ]

    @strawberry.field
    def refund(self) -> ReturnRefund:
        row, currency = self.row, self.row.currency
        return ReturnRefund(
            subtotal=Money(amount=row.refund_subtotal, currency=currency),
            discount=Money(amount=row.refund_discount, currency=currency),
            tax=Money(amount=row.refund_tax, currency=currency),
            shipping=Money(amount=row.refund_shipping, currency=currency),
            total=Money(amount=row.refund_total, currency=currency),
        )

    @classmethod
    def from_row(cls, row: models.Return) -> Return:
        return cls(
            id=strawberry.ID(str(row.id)),
            status=ReturnStatus(row.status),
            reason=row.reason,
            rejection_reason=row.rejection_reason,
            created_at=row.created_at,
            updated_at=row.updated_at,
            approved_at=row.approved_at,
            rejected_at=row.rejected_at,
            received_at=row.received_at,
            refunded_at=row.refunded_at,
            row=row,
        )


@strawberry.input(description="Units of one order line to return.")
class ReturnLineInput:
    line: int = strawberry.field(description="The order line (`OrderItem.line`).")
    quantity: int = strawberry.field(description="1 to the line's delivered units not yet in a return.")


@strawberry.input
class RequestReturnInput:
    order_id: strawberry.ID
    lines: list[ReturnLineInput] = strawberry.field(description="1 to 100 lines, each named once.")
    reason: str = strawberry.field(description="Why (1 to 500 characters).")
    idempotency_key: str = strawberry.field(
        description="Chosen by the client, one per return: a retry with the same key answers the same return."
    )


def returns_of_rows(rows: list[models.Return]) -> list[Return]:
    return [Return.from_row(row) for row in rows]


def _connection(page: ReturnPage) -> Connection[Return]:
    cursors = {str(row.id): page.cursor_of(row) for row in page.returns}
    return connection(
        returns_of_rows(page.returns),
        size=page.size,
        cursor_of=lambda node: cursors[node.id],
        has_previous=page.has_previous,
    )


@strawberry.type
class ReturnQuery:
    @strawberry.field(name="return", description="A return by id: the order's customer, ADMIN or PARTNER.")
    async def return_(self, info: Info, id: strawberry.ID) -> Return | None:
        row = await ReturnService(info.context).get_return(id)
        return Return.from_row(row) if row is not None else None

    @strawberry.field(
        description="Every return, newest first, optionally of one status (ADMIN or PARTNER).",
        directives=[ListSize(slicing_arguments=["first"], sized_fields=["edges", "nodes"])],
    )
    async def returns(
        self, info: Info, status: ReturnStatus | None = None, first: int | None = 20, after: str | None = None
    ) -> Connection[Return]:
        page = await ReturnService(info.context).list_returns(
            status=status.value if status is not None else None, first=first, after=after
        )
        return _connection(page)


@strawberry.type
class ReturnMutation:
    @strawberry.mutation(
        description=(
            "Ask to return delivered units of an order (its customer, or ADMIN): at most the units of each "
            "line delivered within the return window and not in another return that was not rejected. "
            "RETURN_NOT_ALLOWED (`reason` NOT_DELIVERED or WINDOW_PASSED) when none can be; the same key "
            "answers the same return."
        )
    )
    async def request_return(self, info: Info, input: RequestReturnInput) -> Return:
        row = await ReturnService(info.context).request(
            input.order_id,
            [(line.line, line.quantity) for line in input.lines],
            input.reason,
            input.idempotency_key,
        )
        return Return.from_row(row)

    @strawberry.mutation(description="Approve a REQUESTED return (ADMIN or PARTNER); a repeat answers it.")
    async def approve_return(self, info: Info, id: strawberry.ID) -> Return:
        return Return.from_row(await ReturnService(info.context).approve(id))

    @strawberry.mutation(description="Reject a REQUESTED return, saying why (ADMIN or PARTNER).")
    async def reject_return(self, info: Info, id: strawberry.ID, reason: str) -> Return:
        return Return.from_row(await ReturnService(info.context).reject(id, reason))

    @strawberry.mutation(
        description=(
            "The units of an APPROVED return arrived (ADMIN or PARTNER): its refund is fixed, the money "
            "given back and the units restocked, then REFUNDED (answered when done, or RECEIVED while it "
            "goes on)."
        ),
        directives=[Cost(weight=20)],  # demand control: a refund and a restock
    )
    async def receive_return(self, info: Info, id: strawberry.ID) -> Return:
        return Return.from_row(await ReturnService(info.context).receive(id))
