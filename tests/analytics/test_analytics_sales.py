"""Analytics' sales figures match the orders database exactly, for a history of 300 orders in two currencies
with declines, stock-outs, failures and cancellations after confirmation.

The orders are written through orders' own code into a scratch orders database, published by the real outbox
relay onto the stream of an analytics server of this module's own, and consumed by it; every report is then
compared with the same definition computed in SQL over the orders tables, for windows between the history's
phases (each phase also settles orders of the one before, so orders cross windows).
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import httpx
import pytest
from analytics_helpers import SALES, TOP, USERS, AnalyticsServer, Launcher, run_issuer
from orders_history import History, expected_sales, expected_top_products
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from shared.relay import OutboxRelay
from subgraphs.orders.models import outbox

# (first boundary, last boundary) of each window compared: each phase alone, all of them, the last two.
WINDOWS = [(0, 1), (1, 2), (2, 3), (0, 3), (1, 3)]


@dataclass
class Shop:
    analytics: AnalyticsServer
    orders: async_sessionmaker[AsyncSession]
    boundaries: list[datetime]

    def window(self, bounds: tuple[int, int]) -> tuple[datetime, datetime]:
        return self.boundaries[bounds[0]], self.boundaries[bounds[1]]

    async def orders_db(self, sql: str, **params: Any) -> list[Any]:
        async with self.orders() as session:
            return list(await session.execute(text(sql), params))


@pytest.fixture(scope="module")
async def shop(stack: Any, redis: Any) -> AsyncIterator[Shop]:
    async with httpx.AsyncClient(timeout=60) as http, AsyncExitStack() as exits:
        launcher = Launcher(exits, run_issuer(stack).issue(str(uuid.uuid4()), ["ADMIN"]).token, redis, http)
        analytics = await launcher.start()
        orders = launcher.sessions(await launcher.scratch_database("orders"))
        history = History(orders)
        relay = OutboxRelay(outbox, orders, redis, analytics.stream("orders"), batch_size=1000)

        async def publish() -> None:
            """Each phase's events go out as soon as it is written: analytics consumes them while the next
            phase is written (their times are the outbox rows', so a boundary splits them all the same)."""
            while await relay.publish_batch():
                pass

        # 300 orders (600 before, 1,200 first): each outcome still comes in both currencies (the rarest, EUR's
        # FAILED, 6 times), 42 are refunded, and each phase settles and cancels orders of the one before; the
        # history took most of the file's minute.
        await history.boundary()
        await history.phase(113, settle=0.0, cancel=0.0)
        await publish()
        await history.boundary()
        await history.phase(100, settle=1.0, cancel=0.15)
        await publish()
        await history.boundary()
        await history.phase(87, settle=0.7, cancel=0.2)
        await history.boundary()
        await publish()
        await analytics.caught_up("orders", within=240)
        yield Shop(analytics, orders, history.boundaries)


def span(shop: Shop, bounds: tuple[int, int]) -> dict[str, str]:
    start, end = shop.window(bounds)
    return {"from": start.isoformat(), "to": end.isoformat()}


async def test_the_history_has_hundreds_of_orders_in_two_currencies_with_every_outcome(
    shop: Shop,
) -> None:
    rows = await shop.orders_db(
        "SELECT o.currency, h.status, count(*) "
        "FROM order_status_history h JOIN orders o ON o.id = h.order_id GROUP BY 1, 2"
    )
    counts = {(currency, status): count for currency, status, count in rows}
    refunded = await shop.orders_db(
        "SELECT count(*) FROM orders WHERE status = 'CANCELLED' AND failure_code = 'CANCELLED_BY_CUSTOMER'"
    )

    assert sum(count for (_, status), count in counts.items() if status == "PENDING") >= 300
    for currency in ("USD", "EUR"):
        for status in ("CONFIRMED", "CANCELLED", "FAILED"):
            assert counts[(currency, status)] > 0, (currency, status)
    assert refunded[0][0] > 25


@pytest.mark.parametrize("bounds", WINDOWS)
async def test_sales_summary_matches_the_orders_database(shop: Shop, bounds: tuple[int, int]) -> None:
    async with shop.orders() as session:
        expected = await expected_sales(session, *shop.window(bounds))

    summary = (await shop.analytics.query(SALES, span(shop, bounds)))["salesSummary"]

    assert summary == expected
    assert summary["confirmedOrders"] > 0


@pytest.mark.parametrize(
    ("bounds", "limit"), [((0, 1), 10), ((1, 2), 100), ((2, 3), 5), ((0, 3), 100), ((1, 3), 10)]
)
async def test_top_products_match_the_orders_database(
    shop: Shop, bounds: tuple[int, int], limit: int
) -> None:
    async with shop.orders() as session:
        expected = await expected_top_products(session, *shop.window(bounds), limit)

    top = (await shop.analytics.query(TOP, {**span(shop, bounds), "limit": limit}))["topProducts"]

    assert top == expected
    assert len(top) == min(limit, len(expected)) and top


@pytest.mark.parametrize("bounds", WINDOWS)
async def test_active_buyers_are_the_customers_with_an_order_confirmed_in_the_window(
    shop: Shop, bounds: tuple[int, int]
) -> None:
    start, end = shop.window(bounds)
    buyers = await shop.orders_db(
        "SELECT count(DISTINCT o.user_id) FROM order_status_history h JOIN orders o ON o.id = h.order_id "
        "WHERE h.status = 'CONFIRMED' AND h.at >= :start AND h.at < :end",
        start=start,
        end=end,
    )

    activity = (await shop.analytics.query(USERS, span(shop, bounds)))["userActivity"]

    assert activity["activeBuyers"] == buyers[0][0] > 0
