"""SQL of the sales reports per product and per variant: the net movements of order lines (sold when their
order is confirmed, back when a confirmed order is cancelled or when a return of them is refunded), ranked
(`topProducts`) or summed for `Product.stats` and `ProductVariant.stats`. A product's figures add up the
lines of all its variants."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import and_, func, literal, select, union_all
from sqlalchemy.ext.asyncio import AsyncSession

from subgraphs.analytics.models import OrderFact, OrderLine, ProductActivityDay, ReturnLine
from subgraphs.analytics.repository import within_window


def _line_movements(
    start: datetime | None,
    end: datetime | None,
    products: Sequence[uuid.UUID] | None,
    variants: Sequence[uuid.UUID] | None = None,
) -> Any:
    """Units and amounts sold per line (product, variant, currency): lines of orders confirmed in the window,
    minus lines of confirmed orders cancelled in the window, minus the units of returns refunded in the
    window at their order line's unit price (None bounds: all time), of `products` or `variants` when
    given. A returned line whose order's lines analytics has not seen yet counts once they arrive."""
    o, line = OrderFact, OrderLine

    def in_window(column: Any) -> Any:
        if start is None or end is None:
            return column.is_not(None)
        return within_window(column, start, end)

    def movements(sign: int, condition: Any) -> Any:
        statement = (
            select(
                line.product_id,
                line.variant_id,
                line.currency,
                (literal(sign) * line.quantity).label("units"),
                (literal(sign) * line.quantity * line.unit_price_amount).label("amount"),
            )
            .join(o, o.order_id == line.order_id)
            .where(condition)
        )
        if products is not None:
            statement = statement.where(line.product_id.in_(products))
        if variants is not None:
            statement = statement.where(line.variant_id.in_(variants))
        return statement

    def returns() -> Any:
        back = ReturnLine
        statement = (
            select(
                line.product_id,
                line.variant_id,
                line.currency,
                (-back.quantity).label("units"),
                (-back.quantity * line.unit_price_amount).label("amount"),
            )
            .join(line, and_(line.order_id == back.order_id, line.variant_id == back.variant_id))
            .where(in_window(back.refunded_at))
        )
        if products is not None:
            statement = statement.where(line.product_id.in_(products))
        if variants is not None:
            statement = statement.where(line.variant_id.in_(variants))
        return statement

    sold = movements(1, in_window(o.confirmed_at))
    cancelled = movements(-1, and_(in_window(o.cancelled_at), o.confirmed_at.is_not(None)))
    return union_all(sold, cancelled, returns()).subquery("movements")


@dataclass(frozen=True, slots=True)
class ProductCurrencySales:
    product_id: uuid.UUID
    units: int
    currency: str
    currency_units: int
    amount: int


async def top_products(
    session: AsyncSession, start: datetime, end: datetime, limit: int
) -> list[ProductCurrencySales]:
    """The `limit` products with the most net units sold in the window (more than 0), most first, ties by
    product id; one row per (product, currency) it sold in, by currency."""
    moves = _line_movements(start, end, None)
    per_currency = (
        select(
            moves.c.product_id,
            moves.c.currency,
            func.sum(moves.c.units).label("units"),
            func.sum(moves.c.amount).label("amount"),
        )
        .group_by(moves.c.product_id, moves.c.currency)
        .cte("per_currency")
    )
    ranked = (
        select(per_currency.c.product_id, func.sum(per_currency.c.units).label("units"))
        .group_by(per_currency.c.product_id)
        .having(func.sum(per_currency.c.units) > 0)
        .order_by(func.sum(per_currency.c.units).desc(), per_currency.c.product_id)
        .limit(limit)
        .cte("ranked")
    )
    statement = (
        select(
            ranked.c.product_id,
            ranked.c.units,
            per_currency.c.currency,
            per_currency.c.units,
            per_currency.c.amount,
        )
        .join(per_currency, per_currency.c.product_id == ranked.c.product_id)
        .order_by(ranked.c.units.desc(), ranked.c.product_id, per_currency.c.currency)
    )
    return [
        ProductCurrencySales(row[0], int(row[1]), row[2], int(row[3]), int(row[4]))
        for row in await session.execute(statement)
    ]


@dataclass(frozen=True, slots=True)
class ProductTotals:
    views: int = 0
    searches: int = 0
    units: int = 0
    # currency -> (net units, net amount)
    by_currency: tuple[tuple[str, int, int], ...] = ()


async def product_totals(
    session: AsyncSession, product_ids: Sequence[uuid.UUID]
) -> dict[uuid.UUID, ProductTotals]:
    """All-time figures of each product: views, search appearances, net units and revenue per currency."""
    if not product_ids:
        return {}
    activity = {
        row.product_id: (int(row.views), int(row.searches))
        for row in await session.execute(
            select(
                ProductActivityDay.product_id,
                func.sum(ProductActivityDay.views).label("views"),
                func.sum(ProductActivityDay.searches).label("searches"),
            )
            .where(ProductActivityDay.product_id.in_(product_ids))
            .group_by(ProductActivityDay.product_id)
        )
    }
    moves = _line_movements(None, None, product_ids)
    sales: dict[uuid.UUID, list[tuple[str, int, int]]] = {}
    for row in await session.execute(
        select(moves.c.product_id, moves.c.currency, func.sum(moves.c.units), func.sum(moves.c.amount))
        .group_by(moves.c.product_id, moves.c.currency)
        .order_by(moves.c.product_id, moves.c.currency)
    ):
        sales.setdefault(row[0], []).append((row[1], int(row[2]), int(row[3])))
    found: dict[uuid.UUID, ProductTotals] = {}
    for product_id in {*activity, *sales}:
        views, searches = activity.get(product_id, (0, 0))
        by_currency = tuple(sales.get(product_id, ()))
        found[product_id] = ProductTotals(
            views=views,
            searches=searches,
            units=sum(units for _, units, _ in by_currency),
            by_currency=by_currency,
        )
    return found


async def variant_totals(
    session: AsyncSession, variant_ids: Sequence[uuid.UUID]
) -> dict[uuid.UUID, tuple[tuple[str, int, int], ...]]:
    """All-time net sales of each variant: (currency, net units, net amount) per currency it sold in."""
    if not variant_ids:
        return {}
    moves = _line_movements(None, None, None, variant_ids)
    sales: dict[uuid.UUID, list[tuple[str, int, int]]] = {}
    for row in await session.execute(
        select(moves.c.variant_id, moves.c.currency, func.sum(moves.c.units), func.sum(moves.c.amount))
        .group_by(moves.c.variant_id, moves.c.currency)
        .order_by(moves.c.variant_id, moves.c.currency)
    ):
        sales.setdefault(row[0], []).append((row[1], int(row[2]), int(row[3])))
    return {variant_id: tuple(rows) for variant_id, rows in sales.items()}
