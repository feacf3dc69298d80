"""What a shipping method costs for one cart: pure rules, no I/O, so every caller (the cart's list, the
checkout's quote) prices alike.

The rules, in the order they are checked:

1. An archived method is not available (`ARCHIVED`).
2. A method prices in one currency; a cart in another is not available (`CURRENCY`): no conversion.
3. FLAT: the flat price, whatever the weight.
   WEIGHT_BANDS: the price of the first band (bands are strictly increasing by `max_grams`) whose
   `max_grams` is at least the cart's weight (a band's maximum is included); a cart heavier than every band
   is not available (`WEIGHT`), even when it would ship free.
4. Free (price 0) when the method has a threshold and the cart's subtotal is at least it (the threshold is
   included), in the method's currency.

The zone (`NOT_IN_ZONE`) and an unknown method (`UNKNOWN`) are decided by the caller, which looks them up.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from subgraphs.shipping.models import RATE_FLAT

NOT_IN_ZONE = "NOT_IN_ZONE"
CURRENCY = "CURRENCY"
WEIGHT = "WEIGHT"
ARCHIVED = "ARCHIVED"
UNKNOWN = "UNKNOWN"


@dataclass(frozen=True, slots=True)
class WeightBand:
    max_grams: int
    amount: int


@dataclass(frozen=True, slots=True)
class Rate:
    """What `price` needs of a method (a `ShippingMethod` row gives it through `Rate.of`)."""

    active: bool
    currency: str
    kind: str
    flat_amount: int | None
    bands: tuple[WeightBand, ...]
    free_above_amount: int | None

    @classmethod
    def of(cls, method: Any) -> Rate:
        return cls(
            active=method.active,
            currency=method.currency,
            kind=method.rate_kind,
            flat_amount=method.flat_amount,
            bands=bands_of(method.weight_bands),
            free_above_amount=method.free_above_amount,
        )


@dataclass(frozen=True, slots=True)
class Priced:
    """The price in minor units of the method's currency, or None with the reason it is not available."""

    amount: int | None
    reason: str | None = None

    @property
    def available(self) -> bool:
        return self.amount is not None


def bands_of(stored: list[dict[str, Any]]) -> tuple[WeightBand, ...]:
    return tuple(WeightBand(max_grams=band["maxGrams"], amount=band["amount"]) for band in stored)


def price(rate: Rate, *, subtotal_amount: int, currency: str, weight_grams: int) -> Priced:
    """The rules of the module docstring, in their order."""
    if not rate.active:
        return Priced(None, ARCHIVED)
    if currency != rate.currency:
        return Priced(None, CURRENCY)
    if rate.kind == RATE_FLAT:
        amount = rate.flat_amount
    else:
        amount = next((band.amount for band in rate.bands if band.max_grams >= weight_grams), None)
    if amount is None:
        return Priced(None, WEIGHT)
    if rate.free_above_amount is not None and subtotal_amount >= rate.free_above_amount:
        return Priced(0)
    return Priced(amount)
