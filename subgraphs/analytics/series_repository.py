"""SQL of the sales time series (`salesSeries`): the figures of salesSummary's orders and money, counted per
bucket of a window in one statement (PostgreSQL's `width_bucket` over the buckets' starts)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import BigInteger, DateTime, Integer, and_, bindparam, func, literal, select, union_all
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.ext.asyncio import AsyncSession

from subgraphs.analytics.models import OrderFact, RefundFact
from subgraphs.analytics.repository import within_window


@dataclass(frozen=True, slots=True)
class BucketSales:
    """One bucket's figures in one currency (None: orders whose money analytics has not seen yet)."""

    bucket: int
    currency: str | None
    placed: int
    confirmed: int
    gross: int
    refunded: int


async def sales_by_bucket(session: AsyncSession, thresholds: Sequence[datetime]) -> list[BucketSales]:
    """Per (bucket, currency): orders placed, orders confirmed and their totals, and the money given back
    (totals of confirmed orders cancelled, partial refunds of returns), each by the time it happened. Bucket
    i (0-based) is [thresholds[i], thresholds[i + 1])."""
    start, end = thresholds[0], thresholds[-1]
    edges = bindparam("thresholds", list(thresholds), type_=ARRAY(DateTime(timezone=True)))
    o, r = OrderFact, RefundFact

    def moves(moment: Any, currency: Any, placed: int, confirmed: int, gross: Any, back: Any) -> Any:
        return select(
            (func.width_bucket(moment, edges) - 1).label("bucket"),
            currency.label("currency"),
            literal(placed, Integer).label("placed"),
            literal(confirmed, Integer).label("confirmed"),
            gross.label("gross"),
            back.label("refunded"),
        )

    zero = literal(0, BigInteger)
    total = func.coalesce(o.total_amount, 0)
    movements = union_all(
        moves(o.placed_at, o.currency, 1, 0, zero, zero).where(within_window(o.placed_at, start, end)),
        moves(o.confirmed_at, o.currency, 0, 1, total, zero).where(within_window(o.confirmed_at, start, end)),
        moves(o.cancelled_at, o.currency, 0, 0, zero, total).where(
            and_(within_window(o.cancelled_at, start, end), o.confirmed_at.is_not(None))
        ),
        moves(r.refunded_at, r.currency, 0, 0, zero, r.amount).where(
            and_(r.partial, within_window(r.refunded_at, start, end))
        ),
    ).subquery("movements")
    statement = (
        select(
            movements.c.bucket,
            movements.c.currency,
            func.sum(movements.c.placed),
            func.sum(movements.c.confirmed),
            func.sum(movements.c.gross),
            func.sum(movements.c.refunded),
        )
        .group_by(movements.c.bucket, movements.c.currency)
        .order_by(movements.c.bucket, movements.c.currency)
    )
    return [
        BucketSales(int(row[0]), row[1], int(row[2]), int(row[3]), int(row[4]), int(row[5]))
        for row in await session.execute(statement)
    ]
