"""The inventory subgraph's GraphQL schema: `ProductVariant.stock`/`inStock` (stock is kept per variant) and
`Product.stock`/`inStock` (over the product's variants), `adjustStock`/`adjustVariantStock` for admins, the
dead letters of its catalog consumer (admins), and the saga's internal reservation operations (@inaccessible:
the router never exposes them; SERVICE token only, as a subgraph still executes them when called directly).
"""

from __future__ import annotations

import enum
import uuid
from datetime import datetime
from typing import Any, TypeVar

import strawberry
from strawberry.dataloader import DataLoader
from strawberry.federation.schema_directives import ListSize
from strawberry.types import Info

from shared.auth.permissions import IsAdmin, IsService, guarded
from shared.deadletters import dead_letter_mutation, dead_letter_query
from shared.graphql import build_schema
from shared.ids import uuid_or_none
from subgraphs.inventory.low_stock import MAX_LOW_STOCK, low_stock_products
from subgraphs.inventory.repository import ProductStock, ReservationRecord, StockLevel
from subgraphs.inventory.restocks import restock_return
from subgraphs.inventory.service import InventoryService, StockLine, reservation_lines

# GraphQL's Int is 32-bit: a product's sums over many variants could pass it (each variant stays far below).
_INT_MAX = 2**31 - 1
_NOWHERE = uuid.UUID(int=0)
T = TypeVar("T")


@strawberry.type(description="Units in the warehouse: of a variant, or summed over a product's variants.")
class Stock:
    available: int = strawberry.field(description="Units that can be ordered now: `onHand - reserved`.")
    reserved: int = strawberry.field(description="Units held for orders not yet confirmed.")
    on_hand: int = strawberry.field(description="Units in the warehouse, reserved ones included.")

    @classmethod
    def of(cls, on_hand: int, reserved: int) -> Stock:
        on_hand, reserved = min(on_hand, _INT_MAX), min(reserved, _INT_MAX)
        return cls(available=on_hand - reserved, reserved=reserved, on_hand=on_hand)


@strawberry.federation.type(keys=["id"], description="A product of the catalog (owned by products).")
class Product:
    id: strawberry.ID
    sums: strawberry.Private[ProductStock]

    @strawberry.field(
        description="Its stock: the SUM over all its variants' stock (archived ones included: units in the "
        "warehouse are there whatever the catalog says; a variant's own is `ProductVariant.stock`); all "
        "zeros for a product never stocked. Each figure saturates at 2,147,483,647."
    )
    def stock(self) -> Stock:
        return Stock.of(self.sums.on_hand, self.sums.reserved)

    @strawberry.field(
        description="Whether ANY of its variants can be ordered now: at least one unit available of a "
        "variant that is active, of a product that is active (as inventory last heard from the catalog)."
    )
    def in_stock(self) -> bool:
        return self.sums.in_stock

    @classmethod
    async def resolve_reference(cls, info: Info, id: strawberry.ID) -> Product:
        return (await cls.resolve_references(info, [{"id": id}]))[0]

    @classmethod
    async def resolve_references(cls, info: Info, representations: list[dict[str, Any]]) -> list[Product]:
        """Every reference of an `_entities` at once (shared.graphql `Schema.entities_resolver`). Inventory
        does not own the catalog: any id is a product, with nothing in stock until adjusted."""
        ids = [representation["id"] for representation in representations]
        loaded = await _load_by_id(ids, info.context.loaders.product_stock, ProductStock.empty(_NOWHERE))
        return [cls(id=id, sums=sums) for id, sums in zip(ids, loaded, strict=True)]


@strawberry.federation.type(
    keys=["id"],
    description="What is sold and stocked: a product in one value of each option (owned by products).",
)
class ProductVariant:
    id: strawberry.ID
    level: strawberry.Private[StockLevel]

    @strawberry.field(description="Its stock; all zeros for a variant never stocked.")
    def stock(self) -> Stock:
        return Stock.of(self.level.on_hand, self.level.reserved)

    @strawberry.field(
        description="Whether it can be ordered now: at least one unit available, and it and its product are "
        "active (as inventory last heard from the catalog)."
    )
    def in_stock(self) -> bool:
        return self.level.sellable and self.level.available > 0

    @classmethod
    async def resolve_reference(cls, info: Info, id: strawberry.ID) -> ProductVariant:
        return (await cls.resolve_references(info, [{"id": id}]))[0]

    @classmethod
    async def resolve_references(
        cls, info: Info, representations: list[dict[str, Any]]
    ) -> list[ProductVariant]:
        """Every reference of an `_entities` at once (shared.graphql `Schema.entities_resolver`)."""
        ids = [representation["id"] for representation in representations]
        loaded = await _load_by_id(ids, info.context.loaders.stock, StockLevel.empty(_NOWHERE))
        return [cls(id=id, level=level) for id, level in zip(ids, loaded, strict=True)]


async def _load_by_id(ids: list[strawberry.ID], loader: DataLoader[uuid.UUID, T], absent: T) -> list[T]:
    """What `loader` holds for each id, in order; `absent` for an id that is no UUID (nothing stocked)."""
    keys = [uuid_or_none(id) for id in ids]
    found = iter(await loader.load_many([key for key in keys if key is not None]))
    return [absent if key is None else next(found) for key in keys]


@strawberry.federation.enum(inaccessible=True, description="Where a reservation stands.")
class ReservationStatus(enum.Enum):
    RESERVED = "RESERVED"
    CONFIRMED = "CONFIRMED"
    RELEASED = "RELEASED"
    EXPIRED = "EXPIRED"
    RESTOCKED = "RESTOCKED"


@strawberry.federation.type(inaccessible=True)
class ReservationLine:
    variant_id: strawberry.ID = strawberry.field(description="The variant whose units are held.")
    product_id: strawberry.ID = strawberry.field(
        description="The variant's product, as inventory knows it (the variant's own id for a product sold "
        "as one thing)."
    )
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
                ReservationLine(
                    variant_id=strawberry.ID(str(line.variant_id)),
                    product_id=strawberry.ID(str(line.product_id)),
                    quantity=line.quantity,
                )
                for line in record.lines
            ],
        )


@strawberry.federation.input(inaccessible=True, description="Units of one variant: exactly one of its ids.")
class StockLineInput:
    variant_id: strawberry.ID | None = strawberry.field(default=None, description="The variant.")
    product_id: strawberry.ID | None = strawberry.field(
        default=None,
        description="As before variants: the variant sharing this id (a product sold as one thing).",
    )
    quantity: int = strawberry.field(description="1 to 10,000 units.")


@strawberry.federation.input(inaccessible=True)
class ReserveStockInput:
    key: str = strawberry.field(description="Idempotency key: a known key returns its reservation.")
    order_id: strawberry.ID
    lines: list[StockLineInput] = strawberry.field(description="1 to 100 lines; one variant twice is merged.")


@strawberry.federation.input(inaccessible=True, description="A line of a return put back on hand (internal).")
class RestockLineInput:
    variant_id: strawberry.ID
    quantity: int = strawberry.field(description="1 to 10,000 units.")


@strawberry.federation.input(inaccessible=True, description="A return's units back on hand (internal).")
class RestockReturnInput:
    key: str = strawberry.field(description="Idempotency key: a known key adds nothing again.")
    order_id: strawberry.ID
    lines: list[RestockLineInput] = strawberry.field(
        description="1 to 100 lines; one variant twice is merged."
    )
    reason: str = strawberry.field(description="The ledger's reason (1 to 200 characters): names the return.")


@strawberry.type
class Query(dead_letter_query("inventory")):  # type: ignore[misc]
    @strawberry.field(
        **guarded(IsAdmin, ListSize(slicing_arguments=["first"])),
        description="Products running low: units available over their sellable variants at or below "
        "`threshold` (null: the service's low-stock threshold, as StockLow events use), fewest first, ties "
        f"by id; `first`: 1 to {MAX_LOW_STOCK}. Products never stocked are not listed (admin only).",
    )
    async def low_stock_products(
        self, info: Info, threshold: int | None = None, first: int = 20
    ) -> list[Product]:
        found = await low_stock_products(info.context, threshold, first)
        return [Product(id=strawberry.ID(str(sums.product_id)), sums=sums) for sums in found]

    @strawberry.federation.field(
        inaccessible=True, **guarded(IsService), description="A reservation by its key (SERVICE)."
    )
    async def reservation(self, info: Info, key: str) -> Reservation | None:
        record = await InventoryService.of(info.context).get_reservation(key)
        return Reservation.from_record(record) if record is not None else None


@strawberry.type
class Mutation(dead_letter_mutation("inventory")):  # type: ignore[misc]
    @strawberry.mutation(
        **guarded(IsAdmin),
        description="Receive (delta > 0) or write off (delta < 0) units of a product sold as one thing: the "
        "variant sharing its id (or its only variant); never below what is reserved. A product with several "
        "variants answers VARIANT_REQUIRED: use `adjustVariantStock`.",
    )
    async def adjust_stock(self, info: Info, product_id: strawberry.ID, delta: int, reason: str) -> Product:
        service = InventoryService.of(info.context)
        level = await service.adjust_stock(product_id, delta, reason)
        sums = await service.product_stock(level.product_id)
        info.context.loaders.remember(level, sums)
        return Product(id=strawberry.ID(str(level.product_id)), sums=sums)

    @strawberry.mutation(
        **guarded(IsAdmin),
        description="Receive (delta > 0) or write off (delta < 0) units of one variant; never below what is "
        "reserved.",
    )
    async def adjust_variant_stock(
        self, info: Info, variant_id: strawberry.ID, delta: int, reason: str
    ) -> ProductVariant:
        level = await InventoryService.of(info.context).adjust_variant_stock(variant_id, delta, reason)
        info.context.loaders.remember(level)
        return ProductVariant(id=strawberry.ID(str(level.variant_id)), level=level)

    @strawberry.federation.mutation(
        inaccessible=True,
        **guarded(IsService),
        description="Hold every line's units or none (NOT_SELLABLE: a variant or its product is archived; "
        "OUT_OF_STOCK). Idempotent by key (SERVICE).",
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

    @strawberry.federation.mutation(
        inaccessible=True,
        **guarded(IsService),
        description="Put a return's units back on hand, once per key; StockChanged per variant (SERVICE).",
    )
    async def restock_return(self, info: Info, input: RestockReturnInput) -> bool:
        lines = [
            StockLine(variant_id=line.variant_id, product_id=None, quantity=line.quantity)
            for line in input.lines
        ]
        return await restock_return(
            InventoryService.of(info.context), input.key, input.order_id, lines, input.reason
        )


schema = build_schema(query=Query, mutation=Mutation, types=[Product, ProductVariant])
