"""The buckets of the sales time series (`salesSeries`): a window cut into hours, days, weeks or calendar
months from its start, the last bucket ending at the window's end; and each bucket's figures, zeros for a
bucket without sales, so a chart has one point per bucket."""

from __future__ import annotations

import calendar
import enum
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from shared.errors import BadUserInput
from subgraphs.analytics.series_repository import BucketSales

# A chart of more points than this is unreadable, and each costs the database a threshold.
MAX_SERIES_POINTS = 1000


class SalesInterval(enum.Enum):
    HOUR = "HOUR"
    DAY = "DAY"
    WEEK = "WEEK"
    MONTH = "MONTH"


STEPS = {
    SalesInterval.HOUR: timedelta(hours=1),
    SalesInterval.DAY: timedelta(days=1),
    SalesInterval.WEEK: timedelta(weeks=1),
}


@dataclass(frozen=True, slots=True)
class SeriesPoint:
    start: datetime
    end: datetime
    orders: int
    confirmed_orders: int
    # currency -> amount, one entry per currency of the whole series (zeros included), by code.
    gross_revenue: dict[str, int]
    refunded: dict[str, int]
    revenue: dict[str, int]


def add_months(moment: datetime, months: int) -> datetime:
    """`months` calendar months later, the day clamped to the month's last (Jan 31 + 1 -> Feb 28 or 29)."""
    index = moment.month - 1 + months
    year, month = moment.year + index // 12, index % 12 + 1
    return moment.replace(year=year, month=month, day=min(moment.day, calendar.monthrange(year, month)[1]))


def thresholds(start: datetime, end: datetime, interval: SalesInterval) -> list[datetime]:
    """The buckets' starts, then `end`; BAD_USER_INPUT beyond MAX_SERIES_POINTS buckets (counted before any
    is made, so a century of hours costs nothing)."""
    step = STEPS.get(interval)
    if step is not None:
        count = -(-(end - start) // step)
    else:
        count = (end.year - start.year) * 12 + end.month - start.month
        count += add_months(start, count) < end
    if count > MAX_SERIES_POINTS:
        raise BadUserInput(
            f"The window holds {count} buckets of a {interval.value.lower()}; at most {MAX_SERIES_POINTS}: "
            "ask for a shorter window or a longer interval.",
            field="interval",
        )
    starts = [start + step * i if step is not None else add_months(start, i) for i in range(count)]
    return [*starts, end]


def points(edges: Sequence[datetime], rows: Sequence[BucketSales]) -> list[SeriesPoint]:
    """One point per bucket, in order; money in each currency the series saw, zero where a bucket had none."""
    currencies = sorted({row.currency for row in rows if row.currency is not None})
    found: dict[int, list[BucketSales]] = {}
    for row in rows:
        found.setdefault(row.bucket, []).append(row)
    series = []
    for index in range(len(edges) - 1):
        bucket = found.get(index, [])
        gross = {currency: 0 for currency in currencies}
        back = dict(gross)
        for row in bucket:
            if row.currency is not None:
                gross[row.currency] += row.gross
                back[row.currency] += row.refunded
        series.append(
            SeriesPoint(
                start=edges[index],
                end=edges[index + 1],
                orders=sum(row.placed for row in bucket),
                confirmed_orders=sum(row.confirmed for row in bucket),
                gross_revenue=gross,
                refunded=back,
                revenue={currency: gross[currency] - back[currency] for currency in currencies},
            )
        )
    return series
