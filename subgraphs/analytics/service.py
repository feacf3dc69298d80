"""Analytics' reports: what each figure counts, computed from the facts the consumer keeps (repository.py).

Definitions (the schema's descriptions say the same to the shop owner). A window is [from, to): from included,
to excluded; a time without an offset is UTC. Each order counts in a window by the time of the transition the
figure is about, as the orders service recorded it (its events' times):

- orders: orders placed (created) in the window, whatever became of them;
- confirmedOrders: orders confirmed in the window; cancellations: orders that became CANCELLED in the window
  (declined payments, out of stock, and cancellations after confirmation); refundedOrders: those of the
  cancellations that had been confirmed (their money went back); failedOrders: orders that became FAILED;
- grossRevenue (per currency): totals of the orders confirmed in the window; refunds: totals of the orders
  cancelled in the window after their confirmation; partialRefunds: what payments' partial refunds (returns,
  PaymentRefunded with `partial`) made in the window gave back, partialRefundCount how many; refunded =
  refunds + partialRefunds (all the money given back on sales in the window); revenue = grossRevenue -
  refunded (net sales, net of partial refunds since issue 18, as a shop's books date a return on the day of
  its refund: a window can show a negative revenue). A shipped order cannot be cancelled (orders refuses),
  so an order's total is never taken back twice, by a cancellation and by partial refunds;
- averageOrderValue (per currency): grossRevenue / confirmedOrders, rounded half up to a whole minor unit;
- netRevenue, taxCollected, shippingRevenue, discountTotal (per currency): the breakdown of revenue's orders
  (their lines after discount without tax, their tax, their shipping without tax, their discounts), net of
  refunds the same way, and of the returns refunded in the window (orders' ReturnRefunded: its refund's
  lines net of discount without tax or shipping = total - shipping - tax, its discount, its lines' tax; the
  shipping it gives back, with its tax, only with the return completing the order, is the order's own
  shippingNet back and the rest tax); an order whose events predate the breakdown adds 0 to each;
- voucherUsage: per promotion (and voucher code; null for an automatic promotion): the orders confirmed in the
  window with its discount, the refundedOrders among the cancellations after confirmation in the window, and
  discount: what it gave on the first minus what it had given on the second, per currency;
- salesSeries: the window cut into buckets (hours, days, weeks or calendar months from `from`, the last one
  ending at `to`), each with salesSummary's orders, confirmedOrders, grossRevenue, refunded and revenue for
  its own span; a bucket without sales is all zeros, in every currency the series saw;
- topProducts: net units per product (units of lines of orders confirmed in the window, minus those of orders
  cancelled in the window after confirmation, minus those of returns refunded in the window), the products
  with more than 0, most first, ties by product id; revenue likewise per currency (quantity x the unit price
  frozen on the order line: a returned unit takes back its line's unit price, whatever share of discount or
  tax its refund carried, which salesSummary accounts for);
- fulfillmentTimes: shipments shipped in the window (each a shipment, an order shipped in two parcels counts
  twice) and their hours to ship (shippedAt - the order's creation); shipments delivered in the window and
  their hours to deliver (deliveredAt - the order's creation) and in transit (deliveredAt - shippedAt):
  mean and median (the 50th percentile, interpolated between the two middle ones for an even count), each
  rounded half away from zero to 0.01 h; null when no shipment has the span;
- userActivity: registrations and logins in the window, the distinct users who logged in, and activeBuyers:
  the distinct customers with at least one order confirmed in the window;
- Product.stats and ProductVariant.stats (all time): views = reads of the product by id; searches = the
  times it appeared on the first page of a search's results; unitsSold and revenue net as above (of
  cancellations after confirmation and of refunded returns).
"""

from __future__ import annotations

import dataclasses
import uuid
from collections.abc import AsyncIterator, Callable, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING

from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from shared.errors import BadUserInput, MyShopError
from subgraphs.analytics import after_sale_repository, repository, sales_repository, series, series_repository
from subgraphs.analytics.after_sale_repository import Durations
from subgraphs.analytics.repository import CurrencySales, UserFigures
from subgraphs.analytics.sales_repository import ProductTotals

if TYPE_CHECKING:
    from shared.context import Context
    from subgraphs.analytics.state import AnalyticsState

MAX_TOP_PRODUCTS = 100
# Money is a GraphQL Int (32-bit signed): a sum beyond it cannot be answered as one.
MAX_AMOUNT = 2**31 - 1


class AmountOutOfRange(MyShopError):
    """A sum of money too large for the schema's Int: ask for a shorter window."""

    code = "AMOUNT_OUT_OF_RANGE"


@dataclass(frozen=True, slots=True)
class Amount:
    amount: int
    currency: str


@dataclass(frozen=True, slots=True)
class Window:
    start: datetime
    end: datetime


@dataclass(frozen=True, slots=True)
class SalesFigures:
    window: Window
    orders: int
    confirmed_orders: int
    cancellations: int
    refunded_orders: int
    failed_orders: int
    partial_refund_count: int
    gross_revenue: list[Amount]
    refunds: list[Amount]
    partial_refunds: list[Amount]
    refunded: list[Amount]
    revenue: list[Amount]
    average_order_value: list[Amount]
    net_revenue: list[Amount]
    tax_collected: list[Amount]
    shipping_revenue: list[Amount]
    discount_total: list[Amount]


@dataclass(frozen=True, slots=True)
class FulfillmentFigures:
    window: Window
    shipped: int
    delivered: int
    # None: no shipment of the window had the span.
    to_ship: Durations | None
    to_deliver: Durations | None
    in_transit: Durations | None


@dataclass(frozen=True, slots=True)
class VoucherUsageFigures:
    promotion_id: uuid.UUID
    code: str | None
    name: str
    orders: int
    refunded_orders: int
    discount: list[Amount]


@dataclass(frozen=True, slots=True)
class ProductSalesFigures:
    product_id: uuid.UUID
    units_sold: int
    revenue: list[Amount]


@dataclass(frozen=True, slots=True)
class VariantStatsFigures:
    units_sold: int
    revenue: list[Amount]


@dataclass(frozen=True, slots=True)
class ProductStatsFigures:
    views: int
    searches: int
    units_sold: int
    revenue: list[Amount]


def window(start: datetime, end: datetime) -> Window:
    """[start, end); a naive time is UTC."""
    start, end = _zoned(start), _zoned(end)
    if start >= end:
        raise BadUserInput("`from` must be before `to`.", field="from")
    return Window(start, end)


def _zoned(moment: datetime) -> datetime:
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)


def amount(value: int, currency: str) -> Amount:
    if not -MAX_AMOUNT <= value <= MAX_AMOUNT:
        raise AmountOutOfRange(
            f"A sum in {currency} exceeds what the schema's Int holds; ask for a shorter window.",
            currency=currency,
        )
    return Amount(value, currency)


def average(total: int, count: int) -> int:
    """total / count rounded half up (totals are never negative): 1001 / 2 -> 501, 1000 / 3 -> 333."""
    return (2 * total + count) // (2 * count)


class Reports:
    """The reports, read in a session of their own from the read replica when one is configured and close
    enough behind (replica.py), else from the service's own database."""

    def __init__(
        self,
        sessions: async_sessionmaker[AsyncSession],
        fallback: async_sessionmaker[AsyncSession] | None = None,
    ) -> None:
        self.sessions = sessions
        # Where a report reads when `sessions` (the replica's) cannot even connect.
        self.fallback = fallback

    @classmethod
    def of(cls, context: Context) -> Reports:
        state: AnalyticsState = context.runtime.state
        return cls(state.reads(), state.primary)

    @asynccontextmanager
    async def _session(self) -> AsyncIterator[AsyncSession]:
        session = self.sessions()
        if self.fallback is not None and self.sessions is not self.fallback:
            try:
                await session.connection()
            except (OSError, DBAPIError):
                # The replica went away since its last lag measurement: this report reads the primary.
                await session.close()
                session = self.fallback()
        async with session:
            yield session

    async def sales_summary(self, start: datetime, end: datetime) -> SalesFigures:
        span = window(start, end)
        async with self._session() as session:
            rows = await repository.sales_by_currency(session, span.start, span.end)
            partial = await after_sale_repository.partial_refunds_by_currency(session, span.start, span.end)
            returned = await after_sale_repository.returns_by_currency(session, span.start, span.end)
        orders = {row.currency: row for row in rows if row.currency is not None}
        # Every currency with order activity or a refund in the window, by code.
        sales = [
            orders.get(currency) or CurrencySales(currency, 0, 0, 0, 0, 0, 0, 0)
            for currency in sorted({*orders, *partial, *returned})
        ]

        def given_back(row: CurrencySales) -> int:
            return row.refunded + partial.get(row.currency or "", (0, 0))[1]

        def each(value: Callable[[CurrencySales], int]) -> list[Amount]:
            return [amount(value(row), row.currency or "") for row in sales]

        def net(column: str) -> list[Amount]:
            """That of the confirmed orders, minus that of the refunded ones and of the returns."""
            return each(
                lambda row: (
                    getattr(row, column)
                    - getattr(row, f"refunded_{column}")
                    - returned.get(row.currency or "", {}).get(column, 0)
                )
            )

        return SalesFigures(
            window=span,
            orders=sum(row.placed for row in rows),
            confirmed_orders=sum(row.confirmed for row in rows),
            cancellations=sum(row.cancelled for row in rows),
            refunded_orders=sum(row.refunded_orders for row in rows),
            failed_orders=sum(row.failed for row in rows),
            partial_refund_count=sum(count for count, _ in partial.values()),
            gross_revenue=each(lambda row: row.gross),
            refunds=each(lambda row: row.refunded),
            partial_refunds=each(lambda row: partial.get(row.currency or "", (0, 0))[1]),
            refunded=each(given_back),
            revenue=each(lambda row: row.gross - given_back(row)),
            average_order_value=[
                amount(average(row.gross, row.confirmed), row.currency or "")
                for row in sales
                if row.confirmed
            ],
            net_revenue=net("items_net"),
            tax_collected=net("tax_total"),
            shipping_revenue=net("shipping_net"),
            discount_total=net("discount_total"),
        )

    async def sales_series(
        self, start: datetime, end: datetime, interval: series.SalesInterval
    ) -> list[series.SeriesPoint]:
        span = window(start, end)
        edges = series.thresholds(span.start, span.end, interval)
        async with self._session() as session:
            rows = await series_repository.sales_by_bucket(session, edges)
        found = series.points(edges, rows)
        for point in found:  # each sum must fit the schema's Int
            for figures in (point.gross_revenue, point.refunded, point.revenue):
                for currency, value in figures.items():
                    amount(value, currency)
        return found

    async def fulfillment_times(self, start: datetime, end: datetime) -> FulfillmentFigures:
        span = window(start, end)
        async with self._session() as session:
            row = await after_sale_repository.fulfillment_times(session, span.start, span.end)

        def known(durations: Durations) -> Durations | None:
            return durations if durations.shipments else None

        return FulfillmentFigures(
            window=span,
            shipped=row.shipped,
            delivered=row.delivered,
            to_ship=known(row.to_ship),
            to_deliver=known(row.to_deliver),
            in_transit=known(row.in_transit),
        )

    async def voucher_usage(self, start: datetime, end: datetime) -> tuple[Window, list[VoucherUsageFigures]]:
        span = window(start, end)
        async with self._session() as session:
            rows = await repository.voucher_usage(session, span.start, span.end)
        # One entry per (promotion, code), its discount per currency (the rows come by code, then currency).
        usage: dict[tuple[uuid.UUID, str | None], VoucherUsageFigures] = {}
        for row in rows:
            key = (row.promotion_id, row.code)
            found = usage.get(key, VoucherUsageFigures(row.promotion_id, row.code, row.name, 0, 0, []))
            usage[key] = dataclasses.replace(
                found,
                orders=found.orders + row.orders,
                refunded_orders=found.refunded_orders + row.refunded_orders,
                discount=[*found.discount, amount(row.discount, row.currency)],
            )
        return span, list(usage.values())

    async def top_products(self, limit: int, start: datetime, end: datetime) -> list[ProductSalesFigures]:
        if not 1 <= limit <= MAX_TOP_PRODUCTS:
            raise BadUserInput(f"`limit` must be between 1 and {MAX_TOP_PRODUCTS}.", field="limit")
        span = window(start, end)
        async with self._session() as session:
            rows = await sales_repository.top_products(session, span.start, span.end, limit)
        ranked: dict[uuid.UUID, ProductSalesFigures] = {}
        for row in rows:
            figures = ranked.setdefault(row.product_id, ProductSalesFigures(row.product_id, row.units, []))
            figures.revenue.append(amount(row.amount, row.currency))
        return list(ranked.values())

    async def user_activity(self, start: datetime, end: datetime) -> tuple[Window, UserFigures]:
        span = window(start, end)
        async with self._session() as session:
            return span, await repository.user_figures(session, span.start, span.end)

    async def product_stats(self, product_ids: Sequence[uuid.UUID]) -> list[ProductStatsFigures]:
        """All-time figures of each product, in the order asked (zeros for a product never seen)."""
        async with self._session() as session:
            found = await sales_repository.product_totals(session, list(set(product_ids)))
        return [_stats(found.get(product_id, ProductTotals())) for product_id in product_ids]

    async def variant_stats(self, variant_ids: Sequence[uuid.UUID]) -> list[VariantStatsFigures]:
        """All-time net sales of each variant, in the order asked (zeros for a variant never sold)."""
        async with self._session() as session:
            found = await sales_repository.variant_totals(session, list(set(variant_ids)))
        return [
            VariantStatsFigures(
                units_sold=sum(units for _, units, _ in found.get(variant_id, ())),
                revenue=[amount(value, currency) for currency, _, value in found.get(variant_id, ())],
            )
            for variant_id in variant_ids
        ]


def _stats(totals: ProductTotals) -> ProductStatsFigures:
    return ProductStatsFigures(
        views=totals.views,
        searches=totals.searches,
        units_sold=totals.units,
        revenue=[amount(value, currency) for currency, _, value in totals.by_currency],
    )
