"""SQL for the tax_rates table, nothing else: no rules, no commits (the request owns the transaction)."""

from __future__ import annotations

from sqlalchemy import delete, func, select
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from subgraphs.orders.models import TaxRateRow


async def all_rates(session: AsyncSession) -> list[TaxRateRow]:
    statement = select(TaxRateRow).order_by(TaxRateRow.country, TaxRateRow.tax_class)
    return list((await session.scalars(statement)).all())


async def rates_of(session: AsyncSession, country: str) -> list[TaxRateRow]:
    statement = select(TaxRateRow).where(TaxRateRow.country == country).order_by(TaxRateRow.tax_class)
    return list((await session.scalars(statement)).all())


async def count(session: AsyncSession) -> int:
    return int(await session.scalar(select(func.count()).select_from(TaxRateRow)) or 0)


async def upsert(session: AsyncSession, country: str, tax_class: str, rate_bp: int, name: str) -> TaxRateRow:
    """Insert or replace the rate of (country, class), in one statement (two admins racing: the last wins)."""
    statement = (
        insert(TaxRateRow)
        .values(country=country, tax_class=tax_class, rate_bp=rate_bp, name=name)
        .on_conflict_do_update(
            index_elements=[TaxRateRow.country, TaxRateRow.tax_class],
            set_={"rate_bp": rate_bp, "name": name, "updated_at": func.now()},
        )
        .returning(TaxRateRow)
        .execution_options(populate_existing=True)
    )
    return (await session.scalars(statement)).one()


async def delete_rate(session: AsyncSession, country: str, tax_class: str) -> bool:
    result = await session.execute(
        delete(TaxRateRow)
        .where(TaxRateRow.country == country, TaxRateRow.tax_class == tax_class)
        .returning(TaxRateRow.country)
    )
    return result.first() is not None
