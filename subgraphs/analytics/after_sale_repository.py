"""SQL of the after-sale facts (issue 18): shipments' times, refunds one by one, refunded returns; the
handlers' writes and the reports' reads (`fulfillmentTimes`, the partial refunds and returns of
`salesSummary`). Every function takes the session of the transaction it runs in."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Numeric, case, cast, func, select
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from subgraphs.analytics.models import OrderFact, RefundFact, ReturnFact, ReturnLine, ShipmentFact
from subgraphs.analytics.repository import within_window

# --- writes (the event handlers) -------------------------------------------------------------------------


async def upsert_shipment(session: AsyncSession, shipment_id: uuid.UUID, **values: Any) -> None:
    """The shipment's times as this event tells them; a time already known is kept (each happens once), so
    a late ShipmentShipped after its ShipmentDelivered changes nothing."""
    statement = insert(ShipmentFact).values(shipment_id=shipment_id, **values)
    kept = {
        name: func.coalesce(getattr(ShipmentFact, name), getattr(statement.excluded, name))
        for name in values
        if name != "order_id"
    }
    await session.execute(
        statement.on_conflict_do_update(index_elements=[ShipmentFact.shipment_id], set_=kept)
    )


async def insert_refund(session: AsyncSession, refund_id: uuid.UUID, **values: Any) -> None:
    """One refund, once (a refund never changes)."""
    await session.execute(insert(RefundFact).values(refund_id=refund_id, **values).on_conflict_do_nothing())


@dataclass(frozen=True, slots=True)
class ReturnedLine:
    line: int
    product_id: uuid.UUID
    variant_id: uuid.UUID
    quantity: int


async def insert_return(
    session: AsyncSession, return_id: uuid.UUID, lines: Sequence[ReturnedLine], **values: Any
) -> None:
    """A refunded return and its lines, once."""
    await session.execute(insert(ReturnFact).values(return_id=return_id, **values).on_conflict_do_nothing())
    if not lines:
        return
    rows = [
        {
            "return_id": return_id,
            "line": line.line,
            "order_id": values["order_id"],
            "product_id": line.product_id,
            "variant_id": line.variant_id,
            "quantity": line.quantity,
            "refunded_at": values["refunded_at"],
        }
        for line in lines
    ]
    await session.execute(insert(ReturnLine).values(rows).on_conflict_do_nothing())


# --- reads (the reports) ---------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Durations:
    """Hours of one span over some shipments: how many, their mean and median (None when none)."""

    shipments: int
    average: float | None
    median: float | None


@dataclass(frozen=True, slots=True)
class FulfillmentRow:
    shipped: int
    delivered: int
    to_ship: Durations
    to_deliver: Durations
    in_transit: Durations


def _hours(end: Any, start: Any, when: Any) -> Any:
    """end - start in hours where `when` holds, else NULL (which the aggregates skip). date_part is double
    precision; extract(epoch ...) is numeric since PostgreSQL 14, twice as slow over a year of shipments."""
    return case((when, func.date_part("epoch", end - start) / 3600.0), else_=None)


def _spans(span: Any) -> list[Any]:
    """count, mean and median of the known values of `span` (hours)."""
    return [
        func.count(span),
        _two_decimals(func.avg(span)),
        _two_decimals(func.percentile_cont(0.5).within_group(span)),
    ]


def _two_decimals(hours: Any) -> Any:
    # PostgreSQL's round(numeric, 2): half away from zero, to 0.01 h (36 s).
    return func.round(cast(hours, Numeric), 2)


async def fulfillment_times(session: AsyncSession, start: datetime, end: datetime) -> FulfillmentRow:
    """Shipments shipped in the window and their hours to ship (shippedAt - orderCreatedAt); shipments
    delivered in the window and their hours to deliver (deliveredAt - orderCreatedAt) and in transit
    (deliveredAt - shippedAt). A span whose start is not known (an event without orderCreatedAt) is left
    out of its figures, not counted as 0. Each span is computed once per shipment (a subquery), not once
    per aggregate."""
    s = ShipmentFact
    shipped = within_window(s.shipped_at, start, end)
    delivered = within_window(s.delivered_at, start, end)
    spans = (
        select(
            shipped.label("shipped"),
            delivered.label("delivered"),
            _hours(s.shipped_at, s.order_created_at, shipped).label("to_ship"),
            _hours(s.delivered_at, s.order_created_at, delivered).label("to_deliver"),
            _hours(s.delivered_at, s.shipped_at, delivered).label("in_transit"),
        )
        .where(shipped | delivered)
        .subquery("spans")
    )
    row = (
        await session.execute(
            select(
                func.count().filter(spans.c.shipped),
                func.count().filter(spans.c.delivered),
                *_spans(spans.c.to_ship),
                *_spans(spans.c.to_deliver),
                *_spans(spans.c.in_transit),
            )
        )
    ).one()
    values = list(row)

    def durations(at: int) -> Durations:
        count, mean, median = values[at : at + 3]
        return Durations(int(count), _float(mean), _float(median))

    return FulfillmentRow(int(values[0]), int(values[1]), durations(2), durations(5), durations(8))


def _float(value: Any) -> float | None:
    return None if value is None else float(value)


async def partial_refunds_by_currency(
    session: AsyncSession, start: datetime, end: datetime
) -> dict[str, tuple[int, int]]:
    """currency -> (partial refunds made in the window, what they gave back)."""
    r = RefundFact
    statement = (
        select(r.currency, func.count(), func.sum(r.amount))
        .where(r.partial, within_window(r.refunded_at, start, end))
        .group_by(r.currency)
    )
    return {row[0]: (int(row[1]), int(row[2])) for row in await session.execute(statement)}


RETURN_BREAKDOWN = ("items_net", "discount_total", "shipping_net", "tax_total")


async def returns_by_currency(
    session: AsyncSession, start: datetime, end: datetime
) -> dict[str, dict[str, int]]:
    """currency -> the breakdown (RETURN_BREAKDOWN, as the order facts' columns) of the returns refunded in
    the window. A return's shipping (with its tax) is the order's shipping_net back, the rest of it tax; an
    order analytics has not seen yet counts it all as shipping."""
    r, o = ReturnFact, OrderFact
    shipping_net = func.least(r.shipping, func.coalesce(o.shipping_net, r.shipping))
    statement = (
        select(
            r.currency,
            func.sum(r.items_net),
            func.sum(r.discount_total),
            func.sum(shipping_net),
            func.sum(r.tax_total + r.shipping - shipping_net),
        )
        .outerjoin(o, o.order_id == r.order_id)
        .where(within_window(r.refunded_at, start, end))
        .group_by(r.currency)
    )
    return {
        row[0]: {column: int(value) for column, value in zip(RETURN_BREAKDOWN, row[1:], strict=True)}
        for row in await session.execute(statement)
    }
