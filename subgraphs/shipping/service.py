"""Shipping's actions: the admin's zones and methods (validated here), and the prices of methods for a cart
(rates.py holds the rules). Every action runs in the request's transaction (`context.session`): it flushes,
never commits.

A zone is deleted only while it has no active method (CONFLICT `ZONE_HAS_ACTIVE_METHODS`): archive them first,
so a zone never disappears from under a cart choosing one of its methods. Its archived methods go with it (an
order keeps the name and price it froze, and a quote for a method gone answers `UNKNOWN`).
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from shared.context import Context
from shared.errors import BadUserInput, Conflict, NotFound
from shared.ids import parse_uuid, uuid_or_none
from shared.money import normalize_currency
from subgraphs.shipping import rates, repository
from subgraphs.shipping.countries import is_country
from subgraphs.shipping.models import (
    CARRIER_MAX_LENGTH,
    DESCRIPTION_MAX_LENGTH,
    NAME_MAX_LENGTH,
    RATE_FLAT,
    RATE_KINDS,
    ShippingMethod,
    ShippingZone,
    ZoneCountry,
)

# Bounds that keep every list small (and demand control honest): a zone's methods, a method's bands.
MAX_METHODS_PER_ZONE = 50
MAX_WEIGHT_BANDS = 20
MAX_DELIVERY_DAYS = 365
# Every country a zone could hold; more in one input is a mistake or an attack.
MAX_COUNTRIES_PER_ZONE = 300


@dataclass(frozen=True, slots=True)
class Quote:
    """`shippingQuote`'s answer: the method's price for a cart, or why it is not available."""

    method_id: str
    name: str | None
    price_amount: int | None
    currency: str | None
    reason: str | None

    @property
    def available(self) -> bool:
        return self.reason is None


@dataclass(frozen=True, slots=True)
class CartRate:
    method: ShippingMethod
    amount: int


@dataclass
class MethodFields:
    """A method's fields as given (create: all; update: the changed ones, the rest unset)."""

    values: dict[str, Any] = field(default_factory=dict)

    def get(self, name: str, default: Any = None) -> Any:
        return self.values.get(name, default)


def _text(value: object, field: str, *, minimum: int, maximum: int) -> str:
    if not isinstance(value, str):
        raise BadUserInput(f"`{field}` must be a string.", field=field)
    text = " ".join(value.split())
    if len(text) < minimum:
        raise BadUserInput(f"`{field}` cannot be blank.", field=field)
    if len(text) > maximum:
        raise BadUserInput(f"`{field}` is at most {maximum} characters.", field=field)
    return text


def _amount(value: object, field: str) -> int:
    if type(value) is not int or value < 0:
        raise BadUserInput(f"`{field}` is a number of minor units, 0 or more.", field=field)
    return value


def clean_zone_name(value: object) -> str:
    return _text(value, "name", minimum=1, maximum=NAME_MAX_LENGTH)


def clean_countries(values: Iterable[object]) -> list[str]:
    """ISO 3166-1 alpha-2 codes, upper-cased, duplicates merged; at least one."""
    values = list(values)
    if len(values) > MAX_COUNTRIES_PER_ZONE:
        raise BadUserInput(f"A zone lists at most {MAX_COUNTRIES_PER_ZONE} countries.", field="countries")
    countries: list[str] = []
    for value in values:
        code = value.strip().upper() if isinstance(value, str) else ""
        if not is_country(code):
            raise BadUserInput("Not an ISO 3166-1 alpha-2 country code.", field="countries", country=value)
        if code not in countries:
            countries.append(code)
    if not countries:
        raise BadUserInput("A zone holds at least one country.", field="countries")
    return sorted(countries)


def clean_bands(values: Sequence[tuple[object, object]]) -> list[dict[str, int]]:
    """1 to 20 bands, `maxGrams` > 0 and strictly increasing, prices 0 or more."""
    if not values:
        raise BadUserInput("A WEIGHT_BANDS method has at least one band.", field="weightBands")
    if len(values) > MAX_WEIGHT_BANDS:
        raise BadUserInput(f"A method has at most {MAX_WEIGHT_BANDS} bands.", field="weightBands")
    bands: list[dict[str, int]] = []
    for max_grams, amount in values:
        if type(max_grams) is not int or max_grams <= 0:
            raise BadUserInput("A band's `maxGrams` is a positive number of grams.", field="weightBands")
        if bands and max_grams <= bands[-1]["maxGrams"]:
            raise BadUserInput("Bands are strictly increasing by `maxGrams`.", field="weightBands")
        bands.append({"maxGrams": max_grams, "amount": _amount(amount, "weightBands")})
    return bands


def clean_method(merged: dict[str, Any], given: MethodFields) -> dict[str, Any]:
    """The method's columns from `merged` (the stored values overlaid with the given ones), validated as a
    whole. The other rate kind's field is refused when given and dropped when only stored (a kind change)."""
    kind = merged["rate_kind"]
    if kind not in RATE_KINDS:
        raise BadUserInput("Unknown rate kind.", field="rateKind")
    minimum = merged["min_delivery_days"]
    maximum = merged["max_delivery_days"]
    if type(minimum) is not int or not 0 <= minimum <= MAX_DELIVERY_DAYS:
        raise BadUserInput(f"0 to {MAX_DELIVERY_DAYS} days.", field="minDeliveryDays")
    if type(maximum) is not int or not minimum <= maximum <= MAX_DELIVERY_DAYS:
        raise BadUserInput(f"`minDeliveryDays` to {MAX_DELIVERY_DAYS} days.", field="maxDeliveryDays")
    try:
        currency = normalize_currency(merged["currency"] if isinstance(merged["currency"], str) else "")
    except ValueError as exc:
        raise BadUserInput("Not an ISO 4217 currency code.", field="currency") from exc
    if kind == RATE_FLAT:
        if given.get("weight_bands"):
            raise BadUserInput("A FLAT method has no weight bands.", field="weightBands")
        if merged["flat_amount"] is None:
            raise BadUserInput("A FLAT method needs `flatPrice`.", field="flatPrice")
        flat_amount, bands = _amount(merged["flat_amount"], "flatPrice"), []
    else:
        if given.get("flat_amount") is not None:
            raise BadUserInput("A WEIGHT_BANDS method has no flat price.", field="flatPrice")
        flat_amount, bands = None, clean_bands(merged["weight_bands"] or [])
    free_above = merged["free_above_amount"]
    return {
        "name": _text(merged["name"], "name", minimum=1, maximum=NAME_MAX_LENGTH),
        "description": _text(
            merged["description"] or "", "description", minimum=0, maximum=DESCRIPTION_MAX_LENGTH
        ),
        "carrier": _text(merged["carrier"] or "", "carrier", minimum=0, maximum=CARRIER_MAX_LENGTH),
        "min_delivery_days": minimum,
        "max_delivery_days": maximum,
        "currency": currency,
        "rate_kind": kind,
        "flat_amount": flat_amount,
        "weight_bands": bands,
        "free_above_amount": None if free_above is None else _amount(free_above, "freeAbove"),
        "active": bool(merged["active"]),
    }


_METHOD_COLUMNS = (
    "name",
    "description",
    "carrier",
    "min_delivery_days",
    "max_delivery_days",
    "currency",
    "rate_kind",
    "flat_amount",
    "weight_bands",
    "free_above_amount",
    "active",
)


class ShippingService:
    def __init__(self, context: Context) -> None:
        self.context = context

    @classmethod
    def of(cls, context: Context) -> ShippingService:
        return cls(context)

    @property
    def session(self) -> AsyncSession:
        return self.context.session

    # --- zones ---

    async def zones(self) -> Sequence[ShippingZone]:
        return await repository.list_zones(self.session)

    async def countries(self) -> list[str]:
        return await repository.shipped_countries(self.session)

    async def _zone(self, raw_id: object, field: str = "id", *, for_update: bool = True) -> ShippingZone:
        zone = await repository.get_zone(
            self.session, parse_uuid(raw_id, field, "a zone id"), for_update=for_update
        )
        if zone is None:
            raise NotFound("No such shipping zone.", field=field)
        return zone

    async def _check_name_free(self, name: str, zone_id: uuid.UUID | None) -> None:
        other = await repository.zone_named(self.session, name)
        if other is not None and other.id != zone_id:
            raise Conflict("Another zone has this name.", field="name", reason="ZONE_NAME_TAKEN")

    async def _check_countries_free(self, countries: list[str], zone_id: uuid.UUID | None) -> None:
        held = await repository.zones_of_countries(self.session, countries)
        for country in countries:
            if country in held and held[country] != zone_id:
                raise Conflict(
                    f"{country} belongs to another zone.",
                    field="countries",
                    reason="COUNTRY_IN_OTHER_ZONE",
                    country=country,
                    zoneId=str(held[country]),
                )

    async def _flush(self) -> None:
        """A concurrent change that took a country or the name between our checks and this flush."""
        try:
            await self.session.flush()
        except IntegrityError as exc:
            raise Conflict(
                "A country or the name was just taken by another zone.",
                field="countries",
                reason="ZONE_CONFLICT",
            ) from exc

    async def create_zone(self, name: object, countries: Iterable[object]) -> ShippingZone:
        clean_name, clean = clean_zone_name(name), clean_countries(countries)
        await self._check_name_free(clean_name, None)
        await self._check_countries_free(clean, None)
        zone = ShippingZone(name=clean_name, countries=[ZoneCountry(country=code) for code in clean])
        self.session.add(zone)
        await self._flush()
        return zone

    async def update_zone(
        self, raw_id: object, name: object | None, countries: Iterable[object] | None
    ) -> ShippingZone:
        zone = await self._zone(raw_id)
        if name is not None:
            clean_name = clean_zone_name(name)
            await self._check_name_free(clean_name, zone.id)
            zone.name = clean_name
        if countries is not None:
            wanted = clean_countries(countries)
            await self._check_countries_free(wanted, zone.id)
            # Only the difference: a kept country's row stays (deleting and re-adding one key collides).
            kept = [row for row in zone.countries if row.country in wanted]
            have = {row.country for row in kept}
            zone.countries = kept + [ZoneCountry(country=code) for code in wanted if code not in have]
        await self._flush()
        return zone

    async def delete_zone(self, raw_id: object) -> uuid.UUID:
        zone = await self._zone(raw_id)
        if await repository.count_methods(self.session, zone.id, active_only=True):
            raise Conflict(
                "Archive the zone's active methods first.", field="id", reason="ZONE_HAS_ACTIVE_METHODS"
            )
        zone_id = zone.id
        self.session.expunge(zone)
        await repository.delete_zone(self.session, zone_id)
        return zone_id

    # --- methods ---

    async def create_method(self, raw_zone_id: object, given: MethodFields) -> ShippingMethod:
        zone = await self._zone(raw_zone_id, "zoneId")
        if await repository.count_methods(self.session, zone.id) >= MAX_METHODS_PER_ZONE:
            raise Conflict(
                f"A zone has at most {MAX_METHODS_PER_ZONE} methods.",
                field="zoneId",
                reason="TOO_MANY_METHODS",
                limit=MAX_METHODS_PER_ZONE,
            )
        merged = {column: given.get(column) for column in _METHOD_COLUMNS}
        merged["active"] = True
        method = ShippingMethod(zone_id=zone.id, **clean_method(merged, given))
        self.session.add(method)
        await self.session.flush()
        return method

    async def _method(self, raw_id: object) -> ShippingMethod:
        method = await repository.get_method(
            self.session, parse_uuid(raw_id, "id", "a method id"), for_update=True
        )
        if method is None:
            raise NotFound("No such shipping method.", field="id")
        return method

    async def update_method(self, raw_id: object, given: MethodFields) -> ShippingMethod:
        method = await self._method(raw_id)
        merged = {column: getattr(method, column) for column in _METHOD_COLUMNS}
        # Stored bands are JSON objects; clean_method reads the (maxGrams, amount) pairs an input gives.
        merged["weight_bands"] = [(band["maxGrams"], band["amount"]) for band in method.weight_bands]
        merged.update(given.values)
        for column, value in clean_method(merged, given).items():
            setattr(method, column, value)
        await self.session.flush()
        return method

    async def archive_method(self, raw_id: object) -> ShippingMethod:
        method = await self._method(raw_id)
        method.active = False
        await self.session.flush()
        return method

    # --- prices ---

    async def quote(
        self, raw_method_id: object, country: str, subtotal_amount: int, currency: str, weight_grams: int
    ) -> Quote:
        """`shippingQuote`: UNKNOWN, ARCHIVED, NOT_IN_ZONE, then rates.price's CURRENCY and WEIGHT."""
        if subtotal_amount < 0:
            raise BadUserInput("`subtotalAmount` is 0 or more.", field="subtotalAmount")
        if weight_grams < 0:
            raise BadUserInput("`weightGrams` is 0 or more.", field="weightGrams")
        method_id = uuid_or_none(raw_method_id)
        method = await repository.get_method(self.session, method_id) if method_id is not None else None
        if method is None:
            return Quote(str(raw_method_id), None, None, None, rates.UNKNOWN)

        def refused(reason: str) -> Quote:
            return Quote(str(method.id), method.name, None, method.currency, reason)

        if not method.active:
            return refused(rates.ARCHIVED)
        zones = await repository.zones_of_countries(self.session, [country.strip().upper()])
        if method.zone_id not in zones.values():
            return refused(rates.NOT_IN_ZONE)
        priced = rates.price(
            rates.Rate.of(method),
            subtotal_amount=subtotal_amount,
            currency=currency.strip().upper(),
            weight_grams=weight_grams,
        )
        if priced.amount is None:
            return refused(priced.reason or rates.UNKNOWN)
        return Quote(str(method.id), method.name, priced.amount, method.currency, None)


def cart_rates(
    methods: Sequence[ShippingMethod], *, subtotal_amount: int, currency: str, weight_grams: int
) -> list[CartRate]:
    """The methods (of the cart's zone) available for the cart, cheapest first, then by name."""
    available: list[CartRate] = []
    for method in methods:
        priced = rates.price(
            rates.Rate.of(method),
            subtotal_amount=subtotal_amount,
            currency=currency,
            weight_grams=weight_grams,
        )
        if priced.amount is not None:
            available.append(CartRate(method, priced.amount))
    return sorted(available, key=lambda rate: (rate.amount, rate.method.name, str(rate.method.id)))
