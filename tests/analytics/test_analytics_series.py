"""`salesSeries`: one point per bucket of the window (hours, days, weeks, calendar months from `from`, the
last one ending at `to`), each with salesSummary's figures for its span, empty buckets as zeros in every
currency of the series; too many buckets or a window that does not end after it starts is BAD_USER_INPUT.
(Who may ask: tests/analytics/test_analytics_access.py.)"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from analytics_helpers import AnalyticsServer, Launcher, event, money, order_event, run_issuer

SERIES = """
query Series($from: DateTime!, $to: DateTime!, $interval: SalesInterval!) {
  salesSeries(from: $from, to: $to, interval: $interval) {
    start end orders confirmedOrders
    grossRevenue { amount currency } refunded { amount currency } revenue { amount currency }
  }
}"""
DAY0 = datetime(2031, 3, 1, tzinfo=UTC)


def day(n: float) -> datetime:
    return DAY0 + timedelta(days=n)


def window(start: datetime, end: datetime, interval: str) -> dict[str, str]:
    return {"from": start.isoformat(), "to": end.isoformat(), "interval": interval}


@pytest.fixture(scope="module")
async def analytics(stack: Any, redis: Any) -> AsyncIterator[AnalyticsServer]:
    """An analytics server of the module's own fed: day 0 two USD orders placed (one confirmed, 3000), day 3
    a EUR order placed and confirmed (1500), cancelled on day 4 (its money back), and a USD partial refund of
    400 on day 4; nothing on days 1, 2 and 5."""
    async with httpx.AsyncClient(timeout=30) as http, AsyncExitStack() as exits:
        launcher = Launcher(exits, run_issuer(stack).issue(str(uuid.uuid4()), ["ADMIN"]).token, redis, http)
        server = await launcher.start()
        kept, dropped, eur = (str(uuid.uuid4()) for _ in range(3))
        product = str(uuid.uuid4())
        usd = [(product, 2, 1500)]
        await server.publish(
            order_event("OrderPlaced", kept, items=usd, at=day(0.1)),
            order_event("OrderConfirmed", kept, items=usd, at=day(0.2)),
            order_event("OrderPlaced", dropped, items=[(product, 1, 999)], at=day(0.5)),
            order_event("OrderPlaced", eur, items=[(product, 1, 1500)], currency="EUR", at=day(3.1)),
            order_event("OrderConfirmed", eur, items=[(product, 1, 1500)], currency="EUR", at=day(3.2)),
            order_event(
                "OrderCancelled", eur, items=[(product, 1, 1500)], currency="EUR", at=day(4.5), code="X"
            ),
        )
        partial = {
            "paymentId": str(uuid.uuid4()),
            "orderId": kept,
            "userId": str(uuid.uuid4()),
            "amount": 400,
            "currency": "USD",
            "reason": "return",
            "refundId": str(uuid.uuid4()),
            "partial": True,
        }
        await server.publish(event("payments", "PaymentRefunded", partial, at=day(4.7)))
        await server.caught_up("orders", "payments")
        yield server


async def test_each_day_is_a_point_and_a_day_without_sales_is_zero(analytics: AnalyticsServer) -> None:
    series = (await analytics.query(SERIES, window(day(0), day(6), "DAY")))["salesSeries"]

    assert [(point["start"], point["end"]) for point in series] == [
        (day(n).isoformat(), day(n + 1).isoformat()) for n in range(6)
    ]
    assert [(point["orders"], point["confirmedOrders"]) for point in series] == [
        (2, 1), (0, 0), (0, 0), (1, 1), (0, 0), (0, 0)
    ]  # fmt: skip
    gross = [point["grossRevenue"] for point in series]
    assert gross[0] == money((0, "EUR"), (3000, "USD"))
    assert gross[1] == gross[2] == gross[5] == money((0, "EUR"), (0, "USD"))
    assert gross[3] == money((1500, "EUR"), (0, "USD"))
    assert series[4]["refunded"] == money((1500, "EUR"), (400, "USD"))
    assert series[4]["revenue"] == money((-1500, "EUR"), (-400, "USD"))
    assert series[0]["revenue"] == money((0, "EUR"), (3000, "USD"))


async def test_the_last_bucket_ends_at_the_end_of_the_window(analytics: AnalyticsServer) -> None:
    series = (await analytics.query(SERIES, window(day(0), day(1.5), "HOUR")))["salesSeries"]

    assert len(series) == 36
    assert series[-1]["end"] == day(1.5).isoformat()
    assert sum(point["orders"] for point in series) == 2
    assert [point["orders"] for point in series[:13]] == [0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1]


async def test_months_are_calendar_months_from_the_start(analytics: AnalyticsServer) -> None:
    start = datetime(2031, 1, 31, tzinfo=UTC)

    series = await analytics.query(SERIES, window(start, datetime(2031, 4, 15, tzinfo=UTC), "MONTH"))

    assert [point["start"][:10] for point in series["salesSeries"]] == [
        "2031-01-31",
        "2031-02-28",
        "2031-03-31",
    ]
    assert [point["orders"] for point in series["salesSeries"]] == [0, 3, 0]


async def test_a_window_without_any_sale_has_zero_points_and_no_money(analytics: AnalyticsServer) -> None:
    series = (await analytics.query(SERIES, window(day(10), day(24), "WEEK")))["salesSeries"]

    assert [(point["orders"], point["grossRevenue"]) for point in series] == [(0, []), (0, [])]


async def test_more_than_a_thousand_buckets_is_bad_user_input(analytics: AnalyticsServer) -> None:
    allowed = await analytics.call(
        SERIES, window(day(0), day(0) + timedelta(hours=1000), "HOUR"), token=analytics.admin
    )
    refused = await analytics.call(
        SERIES, window(day(0), day(0) + timedelta(hours=1001), "HOUR"), token=analytics.admin
    )

    assert len(allowed["data"]["salesSeries"]) == 1000
    assert [(e["extensions"]["code"], e["extensions"].get("field")) for e in refused["errors"]] == [
        ("BAD_USER_INPUT", "interval")
    ]


@pytest.mark.parametrize("end", [day(0), day(-1)])
async def test_a_window_that_does_not_end_after_it_starts_is_bad_user_input(
    analytics: AnalyticsServer, end: datetime
) -> None:
    body = await analytics.call(SERIES, window(day(0), end, "DAY"), token=analytics.admin)

    assert [error["extensions"]["code"] for error in body["errors"]] == ["BAD_USER_INPUT"]
