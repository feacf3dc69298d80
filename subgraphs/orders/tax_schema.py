"""Tax rates' GraphQL types and admin operations (merged into the orders schema by schema.py)."""

from __future__ import annotations

from datetime import datetime

import strawberry
from strawberry.federation.schema_directives import ListSize
from strawberry.types import Info

from shared.auth.permissions import IsAdmin, guarded
from subgraphs.orders.models import TaxRateRow
from subgraphs.orders.taxes import TaxService


@strawberry.type(
    description="The tax rate of a tax class (`Product.taxClass`) in a country. A country without a rate "
    "for a class taxes it at 0. Shipping is taxed at the country's `standard` rate. Each line's tax is "
    "rounded half-up on its own (0.5 minor unit up): net store, round(net x rate); gross store (prices "
    "include tax), gross - round(gross / (1 + rate))."
)
class TaxRate:
    country: str = strawberry.field(description="ISO 3166-1 alpha-2.")
    tax_class: str
    rate: int = strawberry.field(description="Basis points: 2000 = 20%, 700 = 7%.")
    name: str = strawberry.field(description="What an invoice calls it (`VAT 20%`); may be empty.")
    updated_at: datetime

    @classmethod
    def from_row(cls, row: TaxRateRow) -> TaxRate:
        return cls(
            country=row.country,
            tax_class=row.tax_class,
            rate=row.rate_bp,
            name=row.name,
            updated_at=row.updated_at,
        )


TYPICAL_RATES = 100


@strawberry.type
class TaxQuery:
    @strawberry.field(
        **guarded(IsAdmin, ListSize(assumed_size=TYPICAL_RATES)),
        description="Every tax rate, by country then class (ADMIN).",
        # Demand control: a typical store's table (tens of countries, a few classes), not the cap (MAX_RATES):
        # priced at the cap, this one listing would weigh a fifth of an operation's whole budget.
    )
    async def tax_rates(self, info: Info) -> list[TaxRate]:
        return [TaxRate.from_row(row) for row in await TaxService(info.context).rates()]


@strawberry.type
class TaxMutation:
    @strawberry.mutation(
        **guarded(IsAdmin),
        description="Set (create or replace) the rate of a tax class in a country, in basis points (ADMIN). "
        "Carts priced from now on use it; placed orders keep the rates they froze.",
    )
    async def set_tax_rate(
        self, info: Info, country: str, tax_class: str, rate: int, name: str | None = None
    ) -> TaxRate:
        row = await TaxService(info.context).set_rate(country, tax_class, rate, name or "")
        return TaxRate.from_row(row)

    @strawberry.mutation(
        **guarded(IsAdmin),
        description="Delete a rate (ADMIN): the class is then zero-rated in that country; NOT_FOUND when "
        "there is none.",
    )
    async def delete_tax_rate(self, info: Info, country: str, tax_class: str) -> bool:
        return await TaxService(info.context).delete_rate(country, tax_class)
