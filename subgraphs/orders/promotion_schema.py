"""Promotions' and vouchers' GraphQL types and admin operations (merged into orders' schema by schema.py)."""

from __future__ import annotations

import enum
from datetime import datetime
from typing import Any

import strawberry
from strawberry.federation.schema_directives import ListSize
from strawberry.types import Info

from shared.auth.permissions import IsAdmin, guarded
from shared.graphql_types import Money
from subgraphs.orders.models import Promotion as PromotionRow
from subgraphs.orders.promotions import MAX_LISTED, PromotionAdmin


@strawberry.enum(description="What a promotion takes off.")
class PromotionKind(enum.Enum):
    PERCENTAGE = strawberry.enum_value(
        "PERCENTAGE",
        description="`value` basis points (1000 = 10%) of the lines in scope, rounded half-up once on their "
        "sum, then shared over them in proportion (largest remainder), so the line discounts add up exactly.",
    )
    FIXED_AMOUNT = strawberry.enum_value(
        "FIXED_AMOUNT",
        description="`value` minor units of `currency`, at most the lines in scope, shared like a "
        "percentage.",
    )
    FREE_SHIPPING = strawberry.enum_value("FREE_SHIPPING", description="The shipping price becomes 0.")


@strawberry.enum(description="Which lines a promotion applies to.")
class PromotionScope(enum.Enum):
    ALL = "ALL"
    CATEGORIES = "CATEGORIES"
    PRODUCTS = "PRODUCTS"


@strawberry.type(
    description="An automatic promotion (no `code`) or a voucher. A cart gets the one best automatic "
    "promotion, then the voucher it entered on what is left. It applies while active, within [startsAt, "
    "endsAt), under its limits, in its currency, from its minimum subtotal (before discounts), to the lines "
    "of its scope."
)
class Promotion:
    id: strawberry.ID
    name: str
    kind: PromotionKind
    value: int = strawberry.field(description="Basis points (PERCENTAGE), minor units (FIXED_AMOUNT), or 0.")
    currency: str | None = strawberry.field(description="Of a fixed amount and of the minimum subtotal.")
    scope: PromotionScope
    product_ids: list[strawberry.ID]
    categories: list[str]
    minimum_subtotal: Money | None
    starts_at: datetime | None
    ends_at: datetime | None
    code: str | None = strawberry.field(description="The voucher code (any case matches); null: automatic.")
    usage_limit: int | None = strawberry.field(description="Total uses; null: unlimited.")
    per_customer_limit: int | None = strawberry.field(description="Uses per customer; null: unlimited.")
    used_count: int = strawberry.field(description="Uses counted by placed orders (released when one fails).")
    active: bool
    created_at: datetime
    updated_at: datetime

    @classmethod
    def from_row(cls, row: PromotionRow) -> Promotion:
        return cls(
            id=strawberry.ID(str(row.id)),
            name=row.name,
            kind=PromotionKind(row.kind),
            value=row.value,
            currency=row.currency,
            scope=PromotionScope(row.scope),
            product_ids=[strawberry.ID(pid) for pid in row.product_ids],
            categories=list(row.categories),
            minimum_subtotal=(
                Money(amount=row.minimum_subtotal, currency=row.currency)
                if row.minimum_subtotal is not None and row.currency is not None
                else None
            ),
            starts_at=row.starts_at,
            ends_at=row.ends_at,
            code=row.code,
            usage_limit=row.usage_limit,
            per_customer_limit=row.per_customer_limit,
            used_count=row.used_count,
            active=row.active,
            created_at=row.created_at,
            updated_at=row.updated_at,
        )


@strawberry.input(description="Every field of a promotion; an update replaces them all.")
class PromotionInput:
    name: str
    kind: PromotionKind
    value: int = strawberry.field(default=0, description="Basis points or minor units (see PromotionKind).")
    currency: str | None = None
    scope: PromotionScope = PromotionScope.ALL
    product_ids: list[strawberry.ID] | None = strawberry.field(
        default=None,
        description="Scope PRODUCTS: product ids (every variant of each) or variant ids (that variant only).",
    )
    categories: list[str] | None = None
    minimum_subtotal: int | None = strawberry.field(default=None, description="Minor units of `currency`.")
    starts_at: datetime | None = None
    ends_at: datetime | None = None
    code: str | None = strawberry.field(
        default=None, description="3 to 64 letters, digits, '_' or '-'; unique whatever its case."
    )
    usage_limit: int | None = None
    per_customer_limit: int | None = None
    active: bool = True

    def as_raw(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "kind": self.kind.value,
            "value": self.value,
            "currency": self.currency,
            "scope": self.scope.value,
            "product_ids": self.product_ids,
            "categories": self.categories,
            "minimum_subtotal": self.minimum_subtotal,
            "starts_at": self.starts_at,
            "ends_at": self.ends_at,
            "code": self.code,
            "usage_limit": self.usage_limit,
            "per_customer_limit": self.per_customer_limit,
            "active": self.active,
        }


@strawberry.type
class PromotionQuery:
    @strawberry.field(**guarded(IsAdmin), description="A promotion by id (ADMIN); null when none.")
    async def promotion(self, info: Info, id: strawberry.ID) -> Promotion | None:
        row = await PromotionAdmin(info.context).get(id)
        return Promotion.from_row(row) if row is not None else None

    @strawberry.field(
        **guarded(IsAdmin, ListSize(slicing_arguments=["first"], assumed_size=MAX_LISTED)),
        description=f"Promotions, newest first, at most {MAX_LISTED} (ADMIN); inactive ones on request.",
    )
    async def promotions(
        self, info: Info, first: int | None = MAX_LISTED, include_inactive: bool = False
    ) -> list[Promotion]:
        rows = await PromotionAdmin(info.context).listing(include_inactive=include_inactive, first=first)
        return [Promotion.from_row(row) for row in rows]


@strawberry.type
class PromotionMutation:
    @strawberry.mutation(
        **guarded(IsAdmin),
        description="Create a promotion or voucher (ADMIN). A taken code: CONFLICT, reason "
        "VOUCHER_CODE_TAKEN.",
    )
    async def create_promotion(self, info: Info, input: PromotionInput) -> Promotion:
        return Promotion.from_row(await PromotionAdmin(info.context).create(input.as_raw()))

    @strawberry.mutation(
        **guarded(IsAdmin),
        description="Replace a promotion's fields (ADMIN); its use count stays, and a usage limit below it "
        "is refused (CONFLICT, reason BELOW_USED_COUNT).",
    )
    async def update_promotion(self, info: Info, id: strawberry.ID, input: PromotionInput) -> Promotion:
        return Promotion.from_row(await PromotionAdmin(info.context).update(id, input.as_raw()))

    @strawberry.mutation(
        **guarded(IsAdmin),
        description="Delete a promotion (ADMIN); placed orders keep the discounts they froze. To stop one "
        "while keeping its history, update it with `active: false`.",
    )
    async def delete_promotion(self, info: Info, id: strawberry.ID) -> bool:
        return await PromotionAdmin(info.context).delete(id)
