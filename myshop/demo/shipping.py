"""Demo shipping for `myshop up`: zones EU, US and GB, each with methods in its own currency, and Standard and
Express in USD for EU and GB (80% of the demo catalog is priced in USD, `myshop.demo.catalog`).

Idempotent: a zone that exists by name is left alone, with its methods. No events: shipping emits none.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from subgraphs.shipping import repository
from subgraphs.shipping.models import RATE_FLAT, RATE_WEIGHT_BANDS, ShippingMethod, ShippingZone, ZoneCountry
from subgraphs.shipping.service import MethodFields, clean_method

# Free standard shipping from 50.00 in each demo currency (all three have two minor digits).
FREE_ABOVE = 50_00

ZONES: dict[str, tuple[str, ...]] = {
    "EU": ("AT", "BE", "DE", "ES", "FR", "IT", "NL"),
    "US": ("US",),
    "GB": ("GB",),
}
LOCAL_CURRENCY = {"EU": "EUR", "US": "USD", "GB": "GBP"}


def _methods(currency: str, *, carrier: str, bands: bool) -> list[dict[str, Any]]:
    methods: list[dict[str, Any]] = [
        {
            "name": "Standard",
            "description": "Tracked delivery in a few working days; free from 50.00.",
            "carrier": carrier,
            "min_delivery_days": 2,
            "max_delivery_days": 5,
            "rate_kind": RATE_FLAT,
            "flat_amount": 4_90,
            "free_above_amount": FREE_ABOVE,
        },
        {
            "name": "Express",
            "description": "Next working day when ordered before noon.",
            "carrier": carrier,
            "min_delivery_days": 1,
            "max_delivery_days": 1,
            "rate_kind": RATE_FLAT,
            "flat_amount": 12_90,
        },
    ]
    if bands:
        methods.append(
            {
                "name": "Parcel by weight",
                "description": "Priced by the parcel's weight, up to 30 kg.",
                "carrier": carrier,
                "min_delivery_days": 2,
                "max_delivery_days": 4,
                "rate_kind": RATE_WEIGHT_BANDS,
                "weight_bands": [
                    {"maxGrams": 1_000, "amount": 3_90},
                    {"maxGrams": 5_000, "amount": 6_90},
                    {"maxGrams": 10_000, "amount": 9_90},
                    {"maxGrams": 30_000, "amount": 19_90},
                ],
            }
        )
    for method in methods:
        method["currency"] = currency
    return methods


def demo_methods(zone: str) -> list[dict[str, Any]]:
    """The methods of one demo zone, as the columns of `ShippingMethod`, validated as an admin's would be."""
    carrier = {"EU": "DHL", "US": "UPS", "GB": "Royal Mail"}[zone]
    methods = _methods(LOCAL_CURRENCY[zone], carrier=carrier, bands=True)
    if LOCAL_CURRENCY[zone] != "USD":
        for method in _methods("USD", carrier=carrier, bands=False):
            method["name"] += " (USD)"
            methods.append(method)
    unset = dict.fromkeys(("flat_amount", "free_above_amount", "weight_bands"))
    return [
        clean_method(
            {
                **unset,
                **method,
                "active": True,
                "weight_bands": [(b["maxGrams"], b["amount"]) for b in method.get("weight_bands", [])],
            },
            MethodFields(),
        )
        for method in methods
    ]


async def seed(session: AsyncSession) -> list[str]:
    """Create the demo zones that do not exist yet, with their methods; flushes."""
    made: list[str] = []
    for name, countries in ZONES.items():
        if await repository.zone_named(session, name) is not None:
            continue
        taken = await repository.zones_of_countries(session, countries)
        if taken:  # an admin put one of its countries in a zone of their own: theirs stands
            continue
        zone = ShippingZone(name=name, countries=[ZoneCountry(country=code) for code in countries])
        session.add(zone)
        await session.flush()
        methods = demo_methods(name)
        session.add_all(ShippingMethod(zone_id=zone.id, **columns) for columns in methods)
        await session.flush()
        made.append(f"{name} ({len(methods)} methods)")
    return [f"zones {', '.join(made)}"] if made else []
