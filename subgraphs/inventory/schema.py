"""The inventory subgraph's GraphQL schema: `Product.stock` and `Product.inStock`, `adjustStock` for admins,
and the saga's internal reservation operations (@inaccessible: the router never exposes them; SERVICE token
only, as a subgraph still executes them when called directly).
"""

from __future__ import annotations

import enum
import uuid
from datetime import datetime

import strawberry
from strawberry.federation.schema_directives import ListSize
from strawberry.types import Info

from shared.auth.permissions import IsAdmin, IsService, guarded
from shared.graphql import build_schema
from shared.ids import uuid_or_none
from subgraphs.inventory.repository import ReservationRecord, StockLevel
from subgraphs.inventory.service import InventoryService, reservation_lines


@strawberry.type(description="Units of a product in the warehouse.")
class Stock:
    available: int = strawberry.field(description="Units that can be ordered now: `onHand - reserved`.")
    reserved: int = strawberry.field(description="Units held for orders not yet confirmed.")
    on_hand: int = strawberry.field(description="Units in the warehouse, reserved ones included.")


@strawberry.federation.type(keys=["id"], description="A product of the catalog (owned by products).")
class Product:
    id: strawberry.ID
    level: strawberry.Private[StockLevel]

    @strawberry.field(description="Its stock; all zeros for a product never stocked.")
    def stock(self) -> Stock:
        level = self.level
        return Stock(available=level.available, reserved=level.reserved, on_hand=level.on_hand)

    @strawberry.field(description="Whether at least one unit is available.")
    def in_stock(self) -> bool:
        return self.level.available > 0

    @classmethod
    async def resolve_reference(cls, info: Info, id: strawberry.ID) -> Product:
        product_id = uuid_or_none(id)
        # Inventory does not know the catalog: any id is a product, with nothing in stock until adjusted.
        if product_id is None:
            return cls(id=id, level=StockLevel.empty(uuid.UUID(int=0)))
        return cls(id=id, level=await info.context.loaders.stock.load(product_id))


@strawberry.federation.enum(inaccessible=True, description="Where a reservation stands.")
class ReservationStatus(enum.Enum):
    RESERVED = "RESERVED"
    CONFIRMED = "CONFIRMED"
    RELEASED = "RELEASED"
    EXPIRED = "EXPIRED"
    RESTOCKED = "RESTOCKED"


@strawberry.federation.type(inaccessible=True)
class ReservationLine:
    product_id: strawberry.ID
    quantity: int


@strawberry.federation.type(
    inaccessible=True, description="Units held for an order under an idempotency key."
)
class Reservation:
    id: strawberry.ID
    key: str
    order_id: strawberry.ID | None = strawberry.field(description="Null for a release that came first.")
    status: ReservationStatus
    expires_at: datetime | None = strawberry.field(
        description="While RESERVED: when the sweeper frees the units; kept once EXPIRED; null otherwise."
    )
    lines: list[ReservationLine] = strawberry.field(directives=[ListSize(assumed_size=10)])

    @classmethod
    def from_record(cls, record: ReservationRecord) -> Reservation:
        return cls(
            id=strawberry.ID(str(record.id)),
            key=record.key,
            order_id=strawberry.ID(str(record.order_id)) if record.order_id is not None else None,
            status=ReservationStatus(record.status),
            expires_at=record.expires_at,
            lines=[
                ReservationLine(product_id=strawberry.ID(str(line.product_id)), quantity=line.quantity)
                for line in record.lines
            ],
        )


@strawberry.federation.input(inaccessible=True)
class StockLineInput:
    product_id: strawberry.ID
    quantity: int = strawberry.field(description="1 to 10,000 units.")


@strawberry.federation.input(inaccessible=True)
class ReserveStockInput:
    key: str = strawberry.field(description="Idempotency key: a known key returns its reservation.")
    order_id: strawberry.ID
    lines: list[StockLineInput] = strawberry.field(description="1 to 100 lines; one product twice is merged.")


@strawberry.type
class Query:
    @strawberry.federation.field(
        inaccessible=True, **guarded(IsService), description="A reservation by its key (SERVICE)."
    )
    async def reservation(self, info: Info, key: str) -> Reservation | None:
        record = await InventoryService.of(info.context).get_reservation(key)
        return Reservation.from_record(record) if record is not None else None


@strawberry.type
class Mutation:
    @strawberry.mutation(
        **guarded(IsAdmin),
        description="Receive (delta > 0) or write off (delta < 0) units; never below what is reserved.",
    )
    async def adjust_stock(self, info: Info, product_id: strawberry.ID, delta: int, reason: str) -> Product:
        level = await InventoryService.of(info.context).adjust_stock(product_id, delta, reason)
        info.context.loaders.remember(level)
        return Product(id=strawberry.ID(str(level.product_id)), level=level)

    @strawberry.federation.mutation(
        inaccessible=True,
        **guarded(IsService),
        description="Hold every line's units or none (OUT_OF_STOCK). Idempotent by key (SERVICE).",
    )
    async def reserve_stock(self, info: Info, input: ReserveStockInput) -> Reservation:
        record = await InventoryService.of(info.context).reserve_stock(
            input.key, input.order_id, reservation_lines(input.lines)
        )
        return Reservation.from_record(record)

    @strawberry.federation.mutation(
        inaccessible=True,
        **guarded(IsService),
        description="The held units leave with the order. Idempotent (SERVICE).",
    )
    async def confirm_reservation(self, info: Info, key: str) -> Reservation:
        return Reservation.from_record(await InventoryService.of(info.context).confirm_reservation(key))

    @strawberry.federation.mutation(
        inaccessible=True,
        **guarded(IsService),
        description=(
            "Give the units back (RELEASED, or RESTOCKED after a confirmation). Idempotent; an unknown key "
            "leaves a tombstone that a late reserveStock returns (SERVICE)."
        ),
    )
    async def release_reservation(self, info: Info, key: str, reason: str) -> Reservation:
        return Reservation.from_record(
            await InventoryService.of(info.context).release_reservation(key, reason)
        )


schema = build_schema(query=Query, mutation=Mutation, types=[Product])
