"""Demo tax rates and promotions for `myshop up` (orders' database): a 20% standard and 7% reduced rate in a
few EU countries (none for the US: zero-rated, sales tax being the merchant's own filing), an automatic free
shipping promotion above 100.00 USD, and the README's demo voucher `WELCOME10` (10% off, once per customer).
Rows already present are left alone, so an admin's changes survive a restart."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from subgraphs.orders import promotion_repository
from subgraphs.orders.models import Promotion, TaxRateRow

DEMO_COUNTRIES = ("DE", "FR", "NL", "AT", "BE", "IT", "ES")
DEMO_RATES = {"standard": (2000, "VAT 20%"), "reduced": (700, "VAT 7%")}
DEMO_VOUCHER = "WELCOME10"
FREE_SHIPPING_NAME = "Free shipping over 100 USD"


async def seed(session: AsyncSession) -> list[str]:
    rows = [
        {"country": country, "tax_class": tax_class, "rate_bp": rate, "name": name}
        for country in DEMO_COUNTRIES
        for tax_class, (rate, name) in DEMO_RATES.items()
    ]
    result = await session.execute(
        insert(TaxRateRow).values(rows).on_conflict_do_nothing().returning(TaxRateRow.country)
    )
    added_rates = len(result.all())
    added: list[str] = []
    if await promotion_repository.by_code(session, DEMO_VOUCHER) is None:
        await promotion_repository.insert(
            session,
            {"name": "Welcome: 10% off", "kind": "PERCENTAGE", "value": 1000, "code": DEMO_VOUCHER,
             "per_customer_limit": 1},
        )  # fmt: skip
        added.append(DEMO_VOUCHER)
    if await session.scalar(select(Promotion.id).where(Promotion.name == FREE_SHIPPING_NAME)) is None:
        await promotion_repository.insert(
            session,
            {"name": FREE_SHIPPING_NAME, "kind": "FREE_SHIPPING", "value": 0, "currency": "USD",
             "minimum_subtotal": 10_000},
        )  # fmt: skip
        added.append("free shipping")
    return [f"orders: {added_rates} demo tax rates, promotions added: {', '.join(added) or 'none'}"]
