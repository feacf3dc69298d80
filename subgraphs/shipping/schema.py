"""The shipping subgraph's GraphQL schema: zones and methods (admin CRUD), `ShippingMethod` as an entity,
`Cart.availableShippingMethods` (from the cart fields orders owns) and the checkout's internal
`shippingQuote` (@inaccessible, SERVICE only). The price rules are rates.py's, written in its docstring.
Shipments (and `Order.shipments`, `Order.fulfillmentStatus`) are shipment_schema.py's."""

from __future__ import annotations

import uuid
from datetime import datetime
from enum import Enum
from typing import Any

import strawberry
from strawberry.federation.schema_directives import ListSize
from strawberry.types import Info

from shared.auth.permissions import IsAdmin, IsService, guarded
from shared.deadletters import dead_letter_mutation, dead_letter_query
from shared.errors import BadUserInput
from shared.graphql import build_schema
from shared.graphql_types import Money
from subgraphs.shipping import models, shipment_schema
from subgraphs.shipping.service import (
    MethodFields,
    ShippingService,
    cart_rates,
)

# Demand control: typical sizes, not the caps (a zone holds at most service.MAX_METHODS_PER_ZONE methods, a
# method service.MAX_WEIGHT_BANDS bands): priced at the caps, an admin's full listing of zones, methods and
# bands would cost 100,000 and the router would refuse it.
ZONES = ListSize(assumed_size=10)
METHODS = ListSize(assumed_size=10)
BANDS = ListSize(assumed_size=5)


@strawberry.enum(description="How a method's price is computed.")
class ShippingRateKind(Enum):
    FLAT = models.RATE_FLAT
    WEIGHT_BANDS = models.RATE_WEIGHT_BANDS


@strawberry.type(description="A price for carts up to a weight.")
class WeightBand:
    max_grams: int = strawberry.field(description="The heaviest cart (grams, included) of this band.")
    price: Money


@strawberry.type(description="A set of countries shipped to alike; a country is in at most one zone.")
class ShippingZone:
    id: strawberry.ID
    name: str
    countries: list[str] = strawberry.field(
        description="ISO 3166-1 alpha-2 codes, sorted.", directives=[ListSize(assumed_size=30)]
    )
    created_at: datetime
    updated_at: datetime

    @classmethod
    def from_row(cls, row: models.ShippingZone) -> ShippingZone:
        return cls(
            id=strawberry.ID(str(row.id)),
            name=row.name,
            countries=[entry.country for entry in row.countries],
            created_at=row.created_at,
            updated_at=row.updated_at,
        )

    @strawberry.field(
        **guarded(IsAdmin, METHODS),
        description="Its methods, archived ones too, by name (admin only).",
    )
    async def methods(self, info: Info) -> list[ShippingMethod]:
        rows = await info.context.loaders.methods_of_zone.load(uuid.UUID(str(self.id)))
        return [ShippingMethod.from_row(row) for row in rows]


@strawberry.federation.type(keys=["id"], description="A way to ship to a zone, priced in one currency.")
class ShippingMethod:
    id: strawberry.ID
    name: str
    description: str
    carrier: str = strawberry.field(description="Who carries the parcel; empty when unnamed.")
    min_delivery_days: int = strawberry.field(description="Working days to delivery, at the soonest.")
    max_delivery_days: int = strawberry.field(description="Working days to delivery, at the latest.")
    currency: str = strawberry.field(description="ISO 4217: only carts in this currency can use it.")
    active: bool = strawberry.field(description="False once archived: offered to no cart.")
    rate_kind: ShippingRateKind
    flat_price: Money | None = strawberry.field(description="The price of a FLAT method; null otherwise.")
    weight_bands: list[WeightBand] = strawberry.field(
        description=(
            "WEIGHT_BANDS: by increasing `maxGrams`; a cart pays the first band that holds its weight and "
            "cannot use the method when heavier than every band. Empty for FLAT."
        ),
        directives=[BANDS],
    )
    free_above: Money | None = strawberry.field(
        description="Free for a cart whose subtotal (before discounts and tax) is at least this; null: never."
    )
    created_at: datetime
    updated_at: datetime
    zone_id: strawberry.Private[uuid.UUID]

    @classmethod
    def from_row(cls, row: models.ShippingMethod) -> ShippingMethod:
        def money(amount: int | None) -> Money | None:
            return None if amount is None else Money(amount=amount, currency=row.currency)

        return cls(
            id=strawberry.ID(str(row.id)),
            name=row.name,
            description=row.description,
            carrier=row.carrier,
            min_delivery_days=row.min_delivery_days,
            max_delivery_days=row.max_delivery_days,
            currency=row.currency,
            active=row.active,
            rate_kind=ShippingRateKind(row.rate_kind),
            flat_price=money(row.flat_amount),
            weight_bands=[
                WeightBand(
                    max_grams=band["maxGrams"], price=Money(amount=band["amount"], currency=row.currency)
                )
                for band in row.weight_bands
            ],
            free_above=money(row.free_above_amount),
            created_at=row.created_at,
            updated_at=row.updated_at,
            zone_id=row.zone_id,
        )

    @strawberry.field(description="The zone it ships to.")
    async def zone(self, info: Info) -> ShippingZone | None:
        row = await info.context.loaders.zone.load(self.zone_id)
        return ShippingZone.from_row(row) if row is not None else None

    @classmethod
    async def resolve_reference(cls, info: Info, id: strawberry.ID) -> ShippingMethod | None:
        row = await info.context.loaders.method.load(str(id))
        return cls.from_row(row) if row is not None else None


@strawberry.type(description="A shipping method available for a cart, and its price for that cart.")
class ShippingRate:
    method: ShippingMethod
    price: Money = strawberry.field(description="In the cart's currency; 0 when free above the threshold.")


@strawberry.federation.type(
    keys=["id"], description="A customer's cart (owned by orders): shipping adds the methods it can use."
)
class Cart:
    id: strawberry.ID
    shipping_country: str | None = strawberry.federation.field(external=True)
    subtotal: Money = strawberry.federation.field(external=True)
    weight_grams: int = strawberry.federation.field(external=True)

    @strawberry.federation.field(
        requires=["shippingCountry subtotal { amount currency } weightGrams"],
        description=(
            "The active methods of the zone holding the cart's shipping country, in the cart's currency, "
            "whose rate applies to the cart's weight, cheapest first (rules: ShippingMethod's fields). Empty "
            "without a shipping country or outside every zone."
        ),
        directives=[METHODS],
    )
    async def available_shipping_methods(self, info: Info) -> list[ShippingRate]:
        if not self.shipping_country:
            return []
        methods = await info.context.loaders.active_methods_for_country.load(self.shipping_country.upper())
        rates = cart_rates(
            methods,
            subtotal_amount=self.subtotal.amount,
            currency=self.subtotal.currency.upper(),
            weight_grams=self.weight_grams,
        )
        return [
            ShippingRate(
                method=ShippingMethod.from_row(rate.method),
                price=Money(amount=rate.amount, currency=rate.method.currency),
            )
            for rate in rates
        ]

    @classmethod
    def resolve_reference(cls, id: strawberry.ID, **fields: Any) -> Cart:
        """The fields orders resolved for `@requires`; a malformed one is this representation's error."""
        country, subtotal, weight = (
            fields.get("shippingCountry"),
            fields.get("subtotal"),
            fields.get("weightGrams"),
        )
        if country is not None and not isinstance(country, str):
            raise BadUserInput("`shippingCountry` is a country code or null.", field="shippingCountry")
        if (
            not isinstance(subtotal, dict)
            or type(subtotal.get("amount")) is not int
            or not isinstance(subtotal.get("currency"), str)
        ):
            raise BadUserInput("`subtotal` is {amount, currency}.", field="subtotal")
        if type(weight) is not int or weight < 0:
            raise BadUserInput("`weightGrams` is 0 or more.", field="weightGrams")
        return cls(
            id=id,
            shipping_country=country,
            subtotal=Money(amount=subtotal["amount"], currency=subtotal["currency"]),
            weight_grams=weight,
        )


@strawberry.federation.type(
    inaccessible=True, description="A method's price for a checkout's cart, or why it is not available."
)
class ShippingQuote:
    method_id: strawberry.ID
    name: str | None = strawberry.field(description="Null for an UNKNOWN method.")
    price_amount: int | None = strawberry.field(
        description="Minor units of `currency`; null when not available."
    )
    currency: str | None = strawberry.field(description="The method's currency; null for an UNKNOWN method.")
    available: bool
    reason: str | None = strawberry.field(
        description="Why not: NOT_IN_ZONE, CURRENCY, WEIGHT, ARCHIVED or UNKNOWN; null when available."
    )


@strawberry.input(description="A weight band: carts up to `maxGrams` (included) pay `price`.")
class WeightBandInput:
    max_grams: int
    price: int = strawberry.field(description="Minor units of the method's currency, 0 or more.")


@strawberry.input(description="A new shipping method. Amounts are minor units of `currency`, 0 or more.")
class CreateShippingMethodInput:
    zone_id: strawberry.ID
    name: str
    min_delivery_days: int
    max_delivery_days: int
    currency: str
    rate_kind: ShippingRateKind
    description: str = ""
    carrier: str = ""
    flat_price: int | None = strawberry.field(
        default=None, description="Required for FLAT, refused otherwise."
    )
    weight_bands: list[WeightBandInput] | None = strawberry.field(
        default=None,
        description="1 to 20, strictly increasing: required for WEIGHT_BANDS, refused otherwise.",
    )
    free_above: int | None = strawberry.field(default=None, description="Free from this cart subtotal on.")


@strawberry.input(
    description=(
        "The fields to change (omitted: kept); the method is validated as a whole. A new `rateKind` drops "
        "the old kind's price. `freeAbove: null` removes the threshold."
    )
)
class UpdateShippingMethodInput:
    name: str | None = strawberry.UNSET
    description: str | None = strawberry.UNSET
    carrier: str | None = strawberry.UNSET
    min_delivery_days: int | None = strawberry.UNSET
    max_delivery_days: int | None = strawberry.UNSET
    currency: str | None = strawberry.UNSET
    rate_kind: ShippingRateKind | None = strawberry.UNSET
    flat_price: int | None = strawberry.UNSET
    weight_bands: list[WeightBandInput] | None = strawberry.UNSET
    free_above: int | None = strawberry.UNSET
    active: bool | None = strawberry.field(
        default=strawberry.UNSET, description="True brings an archived one back."
    )


def _fields(input: CreateShippingMethodInput | UpdateShippingMethodInput) -> MethodFields:
    """The given fields as the method's columns (UNSET ones left out; null only clears `freeAbove`)."""
    given: dict[str, Any] = {}
    for name in (
        "name",
        "description",
        "carrier",
        "min_delivery_days",
        "max_delivery_days",
        "currency",
        "active",
    ):
        value = getattr(input, name, strawberry.UNSET)
        if value is not strawberry.UNSET and value is not None:
            given[name] = value
    kind = input.rate_kind
    if kind is not strawberry.UNSET and kind is not None:
        given["rate_kind"] = kind.value
    if input.flat_price is not strawberry.UNSET and input.flat_price is not None:
        given["flat_amount"] = input.flat_price
    if input.weight_bands is not strawberry.UNSET and input.weight_bands is not None:
        given["weight_bands"] = [(band.max_grams, band.price) for band in input.weight_bands]
    if input.free_above is not strawberry.UNSET:
        given["free_above_amount"] = input.free_above
    return MethodFields(given)


@strawberry.type
class Query(shipment_schema.ShipmentQuery, dead_letter_query("shipping")):  # type: ignore[misc]
    @strawberry.field(
        **guarded(IsAdmin, ZONES),
        description="Every shipping zone, by name (admin only).",
    )
    async def shipping_zones(self, info: Info) -> list[ShippingZone]:
        return [ShippingZone.from_row(row) for row in await ShippingService.of(info.context).zones()]

    @strawberry.field(
        description=(
            "The countries some active shipping method delivers to (ISO 3166-1 alpha-2), sorted: what an "
            "address form at checkout offers. Anyone may ask."
        ),
        directives=[ListSize(assumed_size=50)],
    )
    async def shipping_countries(self, info: Info) -> list[str]:
        return await ShippingService.of(info.context).countries()

    @strawberry.federation.field(
        inaccessible=True,
        **guarded(IsService),
        description=(
            "A method's price for a cart at checkout (SERVICE): `available: false` with a reason rather than "
            "an error, so the checkout can say which rule failed."
        ),
    )
    async def shipping_quote(
        self,
        info: Info,
        method_id: strawberry.ID,
        country: str,
        subtotal_amount: int,
        currency: str,
        weight_grams: int,
    ) -> ShippingQuote | None:
        quote = await ShippingService.of(info.context).quote(
            method_id, country, subtotal_amount, currency, weight_grams
        )
        return ShippingQuote(
            method_id=strawberry.ID(quote.method_id),
            name=quote.name,
            price_amount=quote.price_amount,
            currency=quote.currency,
            available=quote.available,
            reason=quote.reason,
        )


@strawberry.type
class Mutation(shipment_schema.ShipmentMutation, dead_letter_mutation("shipping")):  # type: ignore[misc]
    @strawberry.mutation(
        **guarded(IsAdmin),
        description="A zone of 1 or more countries (ISO alpha-2), none in another zone (admin only).",
    )
    async def create_shipping_zone(self, info: Info, name: str, countries: list[str]) -> ShippingZone:
        return ShippingZone.from_row(await ShippingService.of(info.context).create_zone(name, countries))

    @strawberry.mutation(
        **guarded(IsAdmin),
        description="Rename a zone and/or replace its countries (omitted: kept) (admin only).",
    )
    async def update_shipping_zone(
        self, info: Info, id: strawberry.ID, name: str | None = None, countries: list[str] | None = None
    ) -> ShippingZone:
        return ShippingZone.from_row(await ShippingService.of(info.context).update_zone(id, name, countries))

    @strawberry.mutation(
        **guarded(IsAdmin),
        description=(
            "Delete a zone; refused (CONFLICT, ZONE_HAS_ACTIVE_METHODS) while it has an active method: "
            "archive them first. Its archived methods go with it. Answers its id (admin only)."
        ),
    )
    async def delete_shipping_zone(self, info: Info, id: strawberry.ID) -> strawberry.ID:
        return strawberry.ID(str(await ShippingService.of(info.context).delete_zone(id)))

    @strawberry.mutation(**guarded(IsAdmin), description="A new method of a zone (admin only).")
    async def create_shipping_method(self, info: Info, input: CreateShippingMethodInput) -> ShippingMethod:
        row = await ShippingService.of(info.context).create_method(input.zone_id, _fields(input))
        info.context.loaders.remember(row)
        return ShippingMethod.from_row(row)

    @strawberry.mutation(**guarded(IsAdmin), description="Change a method (admin only).")
    async def update_shipping_method(
        self, info: Info, id: strawberry.ID, input: UpdateShippingMethodInput
    ) -> ShippingMethod:
        row = await ShippingService.of(info.context).update_method(id, _fields(input))
        info.context.loaders.remember(row)
        return ShippingMethod.from_row(row)

    @strawberry.mutation(
        **guarded(IsAdmin),
        description="Offer a method to no cart any more; orders that chose it keep it (admin only).",
    )
    async def archive_shipping_method(self, info: Info, id: strawberry.ID) -> ShippingMethod:
        row = await ShippingService.of(info.context).archive_method(id)
        info.context.loaders.remember(row)
        return ShippingMethod.from_row(row)


schema = build_schema(query=Query, mutation=Mutation, types=[ShippingMethod, Cart, *shipment_schema.TYPES])
