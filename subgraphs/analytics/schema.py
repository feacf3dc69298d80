"""The analytics subgraph's GraphQL schema: sales, product and user reports and `Product.stats`, all admin
only, plus the admin operations on the consumer's dead letters. What each figure counts is in service.py
and in the descriptions below."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated

import strawberry
from strawberry.federation.schema_directives import Cost, ListSize
from strawberry.types import Info

from shared.auth.permissions import IsAdmin, guarded
from shared.deadletters import DeadLetter, dead_letter_mutation, dead_letter_query
from shared.graphql import build_schema
from shared.graphql_types import Money
from subgraphs.analytics.privacy import PersonalDataExport
from subgraphs.analytics.series import MAX_SERIES_POINTS, SeriesPoint
from subgraphs.analytics.series import SalesInterval as SalesIntervalValue
from subgraphs.analytics.service import (
    Amount,
    Durations,
    ProductSalesFigures,
    ProductStatsFigures,
    Reports,
    VariantStatsFigures,
)

WINDOW = "[from, to): `from` included, `to` excluded; a time without an offset is UTC."
From = Annotated[datetime, strawberry.argument(name="from", description=f"Start of the window {WINDOW}")]
To = Annotated[datetime, strawberry.argument(description="End of the window (excluded).")]
# Demand control: money per currency, and a shop sells in a few.
CURRENCIES = ListSize(assumed_size=3)
# Demand control: a report aggregates a window of events, one query that costs like reading ten objects.
REPORT = Cost(weight=10)


def _money(amounts: list[Amount]) -> list[Money]:
    return [Money(amount=item.amount, currency=item.currency) for item in amounts]


@strawberry.type(description="A product's figures since analytics began (admin only).")
class ProductStats:
    views: int = strawberry.field(description="Reads of the product by id (`Query.product`).")
    searches: int = strawberry.field(
        description="Searches that listed it: one per search whose first page of results included it."
    )
    units_sold: int = strawberry.field(
        description="Units in confirmed orders, minus those of confirmed orders cancelled since and those "
        "of refunded returns."
    )
    revenue: list[Money] = strawberry.field(
        description=(
            "Per currency it sold in, by code: quantity x the unit price frozen on each order line, for the "
            "same units as `unitsSold` (net of cancellations after confirmation and of refunded returns, a "
            "returned unit taking back its line's unit price)."
        ),
        directives=[CURRENCIES],
    )

    @classmethod
    def of(cls, figures: ProductStatsFigures) -> ProductStats:
        return cls(
            views=figures.views,
            searches=figures.searches,
            units_sold=figures.units_sold,
            revenue=_money(figures.revenue),
        )


@strawberry.federation.type(keys=["id"], description="A product of the catalog (owned by products).")
class Product:
    id: strawberry.ID

    @strawberry.field(**guarded(IsAdmin), description="Its sales and audience figures (admin only).")
    async def stats(self, info: Info) -> ProductStats | None:
        try:
            product_id = uuid.UUID(str(self.id))
        except ValueError:
            return ProductStats(views=0, searches=0, units_sold=0, revenue=[])
        return ProductStats.of(await info.context.loaders.product_stats.load(product_id))

    @classmethod
    def resolve_reference(cls, info: Info, id: strawberry.ID) -> Product:
        # Nothing to read for the product itself: its stats are loaded (batched) when asked for.
        return cls(id=id)


@strawberry.type(description="A product variant's sales since analytics began (admin only).")
class VariantStats:
    units_sold: int = strawberry.field(
        description="Units of this variant in confirmed orders, minus those of confirmed orders cancelled "
        "since and those of refunded returns (orders older than variants count for the variant sharing "
        "their product's id)."
    )
    revenue: list[Money] = strawberry.field(
        description="Per currency it sold in, by code: quantity x the unit price frozen on each order line, "
        "for the same units as `unitsSold`.",
        directives=[CURRENCIES],
    )

    @classmethod
    def of(cls, figures: VariantStatsFigures) -> VariantStats:
        return cls(units_sold=figures.units_sold, revenue=_money(figures.revenue))


@strawberry.federation.type(keys=["id"], description="A product variant (owned by products).")
class ProductVariant:
    id: strawberry.ID

    @strawberry.field(**guarded(IsAdmin), description="Its sales figures (admin only).")
    async def stats(self, info: Info) -> VariantStats | None:
        try:
            variant_id = uuid.UUID(str(self.id))
        except ValueError:
            return VariantStats(units_sold=0, revenue=[])
        return VariantStats.of(await info.context.loaders.variant_stats.load(variant_id))

    @classmethod
    def resolve_reference(cls, info: Info, id: strawberry.ID) -> ProductVariant:
        return cls(id=id)


@strawberry.type(
    description=(
        "Orders and money in a window [from, to). Each order counts by the time of the transition a figure "
        "is about (placed, confirmed, cancelled, failed), a refund by the time it was made. Money lists have "
        "one entry per currency that had order activity or a refund in the window, by currency code."
    )
)
class SalesSummary:
    from_: datetime = strawberry.field(name="from", description="Start of the window (included).")
    to: datetime = strawberry.field(description="End of the window (excluded).")
    orders: int = strawberry.field(description="Orders placed in the window, whatever became of them.")
    confirmed_orders: int = strawberry.field(description="Orders confirmed in the window.")
    cancellations: int = strawberry.field(
        description=(
            "Orders that became CANCELLED in the window: declined payments, out of stock, and cancellations "
            "after confirmation."
        )
    )
    refunded_orders: int = strawberry.field(
        description="Cancellations in the window of orders that had been confirmed (their money went back)."
    )
    failed_orders: int = strawberry.field(description="Orders that became FAILED in the window.")
    partial_refund_count: int = strawberry.field(
        description="Partial refunds (of returns) payments made in the window; an order can have several."
    )
    gross_revenue: list[Money] = strawberry.field(
        description="Totals of the orders confirmed in the window.", directives=[CURRENCIES]
    )
    refunds: list[Money] = strawberry.field(
        description="Totals of the orders cancelled in the window after their confirmation.",
        directives=[CURRENCIES],
    )
    partial_refunds: list[Money] = strawberry.field(
        description="What the partial refunds made in the window (returns) gave back.",
        directives=[CURRENCIES],
    )
    refunded: list[Money] = strawberry.field(
        description="All the money given back on sales in the window: refunds + partialRefunds.",
        directives=[CURRENCIES],
    )
    revenue: list[Money] = strawberry.field(
        description=(
            "Net sales: grossRevenue - refunded, net of cancellations after confirmation and of partial "
            "refunds. A refund counts when it happens, so a window with more refunds than sales shows a "
            "negative amount."
        ),
        directives=[CURRENCIES],
    )
    average_order_value: list[Money] = strawberry.field(
        description=(
            "grossRevenue / confirmedOrders per currency, rounded half up to a whole minor unit; only "
            "currencies with a confirmed order in the window."
        ),
        directives=[CURRENCIES],
    )
    net_revenue: list[Money] = strawberry.field(
        description=(
            "The lines of revenue's orders after their discounts, without tax or shipping: net of refunds "
            "like revenue, a return refunded in the window taking back its refund's total - shipping - tax; "
            "orders older than the price breakdown add 0."
        ),
        directives=[CURRENCIES],
    )
    tax_collected: list[Money] = strawberry.field(
        description="The tax of revenue's orders, net of refunds like revenue (a refunded return: its "
        "refund's tax, its shipping's included).",
        directives=[CURRENCIES],
    )
    shipping_revenue: list[Money] = strawberry.field(
        description="The shipping of revenue's orders without its tax, net of refunds like revenue (a "
        "refunded return: the shipping its refund gave back, without its tax).",
        directives=[CURRENCIES],
    )
    discount_total: list[Money] = strawberry.field(
        description="The discounts given on revenue's orders, net of refunds like revenue (a refunded "
        "return: the share of discount its refund took off).",
        directives=[CURRENCIES],
    )


SalesInterval = strawberry.enum(
    SalesIntervalValue,
    name="SalesInterval",
    description="A bucket of `salesSeries`: an hour, a day, a week (7 days) or a calendar month.",
)


def _by_currency(amounts: dict[str, int]) -> list[Money]:
    return [Money(amount=value, currency=currency) for currency, value in amounts.items()]


@strawberry.type(
    description=(
        "One bucket [start, end) of `salesSeries`: salesSummary's figures for its span. Money lists have one "
        "entry per currency with activity anywhere in the series, by code (zero where this bucket had none)."
    )
)
class SalesPoint:
    start: datetime = strawberry.field(description="Start of the bucket (included).")
    end: datetime = strawberry.field(description="End of the bucket (excluded); the last one ends at `to`.")
    orders: int = strawberry.field(description="Orders placed in the bucket, whatever became of them.")
    confirmed_orders: int = strawberry.field(description="Orders confirmed in the bucket.")
    gross_revenue: list[Money] = strawberry.field(
        description="Totals of the orders confirmed in the bucket.", directives=[CURRENCIES]
    )
    refunded: list[Money] = strawberry.field(
        description="Money given back in the bucket: totals of orders cancelled after their confirmation, "
        "and partial refunds (returns).",
        directives=[CURRENCIES],
    )
    revenue: list[Money] = strawberry.field(
        description="Net sales: grossRevenue - refunded (negative when more went back than came in).",
        directives=[CURRENCIES],
    )

    @classmethod
    def of(cls, point: SeriesPoint) -> SalesPoint:
        return cls(
            start=point.start,
            end=point.end,
            orders=point.orders,
            confirmed_orders=point.confirmed_orders,
            gross_revenue=_by_currency(point.gross_revenue),
            refunded=_by_currency(point.refunded),
            revenue=_by_currency(point.revenue),
        )


@strawberry.type(
    description=(
        "A promotion's use in a window [from, to): orders counted by the time of their confirmation, refunds "
        "by that of their cancellation after it."
    )
)
class VoucherUsage:
    promotion_id: strawberry.ID = strawberry.field(description="The promotion (orders' Promotion.id).")
    code: str | None = strawberry.field(description="The voucher code entered; null: an automatic promotion.")
    name: str = strawberry.field(description="The promotion's name as the orders carried it.")
    orders: int = strawberry.field(description="Orders confirmed in the window with its discount.")
    refunded_orders: int = strawberry.field(
        description="Orders with its discount cancelled in the window after their confirmation."
    )
    discount: list[Money] = strawberry.field(
        description="What it took off `orders`, minus what it had taken off `refundedOrders`, per currency.",
        directives=[CURRENCIES],
    )


@strawberry.type(description="A product's sales in a window.")
class ProductSales:
    product: Product
    units_sold: int = strawberry.field(
        description=(
            "Units of lines of orders confirmed in the window, minus those of orders cancelled in the window "
            "after confirmation and those of returns refunded in the window."
        )
    )
    revenue: list[Money] = strawberry.field(
        description="Per currency, by code: quantity x unit price of the same lines, net likewise.",
        directives=[CURRENCIES],
    )

    @classmethod
    def of(cls, figures: ProductSalesFigures) -> ProductSales:
        return cls(
            product=Product(id=strawberry.ID(str(figures.product_id))),
            units_sold=figures.units_sold,
            revenue=_money(figures.revenue),
        )


@strawberry.type(description="Hours a span took over some shipments.")
class FulfillmentDuration:
    shipments: int = strawberry.field(
        description="Shipments measured: those of the window whose span has both ends known (an event "
        "without its order's creation time counts in shipmentsShipped, not in the spans from it)."
    )
    average_hours: float = strawberry.field(
        description="Their mean, in hours rounded half away from zero to 0.01 (36 seconds)."
    )
    median_hours: float = strawberry.field(
        description="Their median (the mean of the two middle ones for an even count), rounded likewise."
    )

    @classmethod
    def of(cls, durations: Durations | None) -> FulfillmentDuration | None:
        if durations is None or durations.average is None or durations.median is None:
            return None
        return cls(
            shipments=durations.shipments, average_hours=durations.average, median_hours=durations.median
        )


@strawberry.type(
    description=(
        "How fast orders ship and arrive, per shipment (an order shipped in two parcels counts twice), in a "
        "window [from, to): a shipment counts by the time it shipped for `toShip`, by the time it was "
        "delivered for `toDeliver` and `inTransit`. Each span is null when no shipment of the window has it."
    )
)
class FulfillmentTimes:
    from_: datetime = strawberry.field(name="from", description="Start of the window (included).")
    to: datetime = strawberry.field(description="End of the window (excluded).")
    shipments_shipped: int = strawberry.field(description="Shipments shipped in the window.")
    shipments_delivered: int = strawberry.field(description="Shipments delivered in the window.")
    to_ship: FulfillmentDuration | None = strawberry.field(
        description="Shipped in the window: shippedAt - the order's creation."
    )
    to_deliver: FulfillmentDuration | None = strawberry.field(
        description="Delivered in the window: deliveredAt - the order's creation."
    )
    in_transit: FulfillmentDuration | None = strawberry.field(
        description="Delivered in the window: deliveredAt - shippedAt."
    )


@strawberry.type(description="Customers' activity in a window [from, to).")
class UserActivity:
    from_: datetime = strawberry.field(name="from", description="Start of the window (included).")
    to: datetime = strawberry.field(description="End of the window (excluded).")
    registrations: int = strawberry.field(description="Accounts registered in the window.")
    logins: int = strawberry.field(description="Sign-ins with a password in the window (each one counts).")
    users_logged_in: int = strawberry.field(description="Distinct users who signed in in the window.")
    active_buyers: int = strawberry.field(
        description="Distinct customers with at least one order confirmed in the window."
    )


@strawberry.type
class Query(dead_letter_query("analytics")):
    @strawberry.field(
        **guarded(IsAdmin, REPORT),
        description="Orders and revenue in a window (admin only).",
    )
    async def sales_summary(self, info: Info, from_: From, to: To) -> SalesSummary | None:
        figures = await Reports.of(info.context).sales_summary(from_, to)
        return SalesSummary(
            from_=figures.window.start,
            to=figures.window.end,
            orders=figures.orders,
            confirmed_orders=figures.confirmed_orders,
            cancellations=figures.cancellations,
            refunded_orders=figures.refunded_orders,
            failed_orders=figures.failed_orders,
            partial_refund_count=figures.partial_refund_count,
            gross_revenue=_money(figures.gross_revenue),
            refunds=_money(figures.refunds),
            partial_refunds=_money(figures.partial_refunds),
            refunded=_money(figures.refunded),
            revenue=_money(figures.revenue),
            average_order_value=_money(figures.average_order_value),
            net_revenue=_money(figures.net_revenue),
            tax_collected=_money(figures.tax_collected),
            shipping_revenue=_money(figures.shipping_revenue),
            discount_total=_money(figures.discount_total),
        )

    # Priced as a month of days (about 600 with its money lists), the console's widest usual window; the
    # subgraph itself refuses more than MAX_SERIES_POINTS buckets, and the field is admin only.
    @strawberry.field(
        **guarded(IsAdmin, REPORT, ListSize(assumed_size=31)),
        description=(
            "Orders and revenue over time: the window cut into buckets of `interval` from `from` (the last "
            "one ending at `to`), one point per bucket, empty ones included as zeros; at most "
            f"{MAX_SERIES_POINTS} buckets, else BAD_USER_INPUT (admin only)."
        ),
    )
    async def sales_series(
        self,
        info: Info,
        from_: From,
        to: To,
        interval: Annotated[SalesInterval, strawberry.argument(description="The length of a bucket.")],
    ) -> list[SalesPoint] | None:
        found = await Reports.of(info.context).sales_series(from_, to, interval)
        return [SalesPoint.of(point) for point in found]

    @strawberry.field(
        **guarded(IsAdmin, REPORT),
        description="Time to ship, to deliver and in transit of the shipments of a window (admin only).",
    )
    async def fulfillment_times(self, info: Info, from_: From, to: To) -> FulfillmentTimes | None:
        figures = await Reports.of(info.context).fulfillment_times(from_, to)
        return FulfillmentTimes(
            from_=figures.window.start,
            to=figures.window.end,
            shipments_shipped=figures.shipped,
            shipments_delivered=figures.delivered,
            to_ship=FulfillmentDuration.of(figures.to_ship),
            to_deliver=FulfillmentDuration.of(figures.to_deliver),
            in_transit=FulfillmentDuration.of(figures.in_transit),
        )

    @strawberry.field(
        **guarded(IsAdmin, REPORT, ListSize(assumed_size=50)),
        description=(
            "Each promotion and voucher code used on orders confirmed or refunded in a window, by code "
            "(automatic promotions last) (admin only)."
        ),
    )
    async def voucher_usage(self, info: Info, from_: From, to: To) -> list[VoucherUsage] | None:
        _, usage = await Reports.of(info.context).voucher_usage(from_, to)
        return [
            VoucherUsage(
                promotion_id=strawberry.ID(str(figures.promotion_id)),
                code=figures.code,
                name=figures.name,
                orders=figures.orders,
                refunded_orders=figures.refunded_orders,
                discount=_money(figures.discount),
            )
            for figures in usage
        ]

    @strawberry.field(
        **guarded(IsAdmin, ListSize(slicing_arguments=["limit"])),  # demand control: `limit` products
        description=(
            "The best-selling products of a window by net units sold (more than 0), most first, ties by "
            "product id (admin only)."
        ),
    )
    async def top_products(
        self,
        info: Info,
        limit: Annotated[int | None, strawberry.argument(description="1 to 100 (null: 10).")] = 10,
        *,
        from_: From,
        to: To,
    ) -> list[ProductSales] | None:
        ranked = await Reports.of(info.context).top_products(10 if limit is None else limit, from_, to)
        return [ProductSales.of(figures) for figures in ranked]

    @strawberry.field(
        **guarded(IsAdmin, REPORT),
        description="Registrations, logins and buyers in a window (admin only).",
    )
    async def user_activity(self, info: Info, from_: From, to: To) -> UserActivity | None:
        span, figures = await Reports.of(info.context).user_activity(from_, to)
        return UserActivity(
            from_=span.start,
            to=span.end,
            registrations=figures.registrations,
            logins=figures.logins,
            users_logged_in=figures.users_logged_in,
            active_buyers=figures.active_buyers,
        )


@strawberry.type
class Mutation(dead_letter_mutation("analytics")):
    pass


schema = build_schema(
    query=Query, mutation=Mutation, types=[Product, ProductVariant, DeadLetter, PersonalDataExport]
)
