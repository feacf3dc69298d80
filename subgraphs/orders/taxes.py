"""Tax rates: the (country, tax class) → rate table that pricing.py applies, and its admin operations.

A country without a row for a class taxes it at 0 (zero-rated; the demo leaves US rates out: sales tax is
the merchant's own filing there). Rates are basis points (2000 = 20%), never floats. Only ADMIN reads or
changes the table (tax_schema.py's IsAdmin); checkout reads it through `tax_table(country)`.
"""

from __future__ import annotations

import re

from sqlalchemy.ext.asyncio import AsyncSession

from shared.context import Context
from shared.errors import BadUserInput, NotFound
from subgraphs.orders import tax_repository
from subgraphs.orders.models import TaxRateRow
from subgraphs.orders.pricing import BP, TaxRate, TaxTable

COUNTRY_PATTERN = re.compile(r"[A-Z]{2}")
# products' rule for Product.taxClass (lower case, no spaces), repeated: no subgraph imports another.
TAX_CLASS_PATTERN = re.compile(r"[a-z][a-z0-9_-]{0,31}")
NAME_MAX_LENGTH = 64
# A table of every country and a handful of classes stays in the hundreds; the cap bounds `taxRates`.
MAX_RATES = 2000


def clean_country(value: object, field: str = "country") -> str:
    country = value.strip().upper() if isinstance(value, str) else ""
    if not COUNTRY_PATTERN.fullmatch(country):
        raise BadUserInput("A country is an ISO 3166-1 alpha-2 code (`DE`).", field=field)
    return country


def clean_tax_class(value: object, field: str = "taxClass") -> str:
    tax_class = value.strip().lower() if isinstance(value, str) else ""
    if not TAX_CLASS_PATTERN.fullmatch(tax_class):
        raise BadUserInput("A tax class is 1 to 32 lower-case letters, digits, '_' or '-'.", field=field)
    return tax_class


def clean_rate(value: object, field: str = "rate") -> int:
    if type(value) is not int or not 0 <= value <= BP:
        raise BadUserInput(f"A rate is 0 to {BP} basis points (2000 = 20%).", field=field)
    return value


def clean_name(value: object) -> str:
    name = value.strip() if isinstance(value, str) else ""
    if len(name) > NAME_MAX_LENGTH:
        raise BadUserInput(f"A rate's name is at most {NAME_MAX_LENGTH} characters.", field="name")
    return name


def table_of(rows: list[TaxRateRow]) -> TaxTable:
    return {(row.country, row.tax_class): TaxRate(row.rate_bp, row.name) for row in rows}


async def tax_table(session: AsyncSession, country: str | None) -> TaxTable:
    """The rates pricing.price needs for an order shipped to `country` (none without a country)."""
    return table_of(await tax_repository.rates_of(session, country)) if country else {}


class TaxService:
    def __init__(self, context: Context) -> None:
        self.context = context

    @property
    def session(self) -> AsyncSession:
        return self.context.session

    async def rates(self) -> list[TaxRateRow]:
        return await tax_repository.all_rates(self.session)

    async def set_rate(self, country: object, tax_class: object, rate: object, name: object) -> TaxRateRow:
        values = (clean_country(country), clean_tax_class(tax_class), clean_rate(rate), clean_name(name))
        if await tax_repository.count(self.session) >= MAX_RATES:
            # Replacing an existing rate is always allowed; only a new pair needs room.
            existing = {
                (row.country, row.tax_class) for row in await tax_repository.rates_of(self.session, values[0])
            }
            if (values[0], values[1]) not in existing:
                raise BadUserInput(f"The tax table holds at most {MAX_RATES} rates.", field="country")
        return await tax_repository.upsert(self.session, *values)

    async def delete_rate(self, country: object, tax_class: object) -> bool:
        """Delete the rate of (country, class): the class is then zero-rated there. NOT_FOUND when none."""
        if not await tax_repository.delete_rate(
            self.session, clean_country(country), clean_tax_class(tax_class)
        ):
            raise NotFound("No rate for that country and tax class.", field="taxClass")
        return True
