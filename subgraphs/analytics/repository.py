"""SQL for the analytics tables, nothing else: the handlers' upserts and the reports' queries. Every function
takes the session of the transaction it runs in."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from sqlalchemy import and_, func, or_, select
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from subgraphs.analytics.models import (
    USER_LOGGED_IN,
    USER_REGISTERED,
    OrderDiscount,
    OrderFact,
    OrderLine,
    OrderStatusChange,
    PaymentFact,
    ProductActivityDay,
    ProductFact,
    StockLevelFact,
    UserEvent,
)

# --- writes (the event handlers) -------------------------------------------------------------------------


async def upsert_order(session: AsyncSession, order_id: uuid.UUID, **values: Any) -> None:
    """Create the order's fact row or fill in what this event adds. A value already known is kept: each
    transition happens once per order, and the money of an order never changes."""
    statement = insert(OrderFact).values(order_id=order_id, **values)
    kept = {
        name: func.coalesce(getattr(OrderFact, name), getattr(statement.excluded, name)) for name in values
    }
    statement = statement.on_conflict_do_update(
        index_elements=[OrderFact.order_id], set_={**kept, "updated_at": func.now()}
    )
    await session.execute(statement)


@dataclass(frozen=True, slots=True)
class Line:
    variant_id: uuid.UUID
    product_id: uuid.UUID
    quantity: int
    unit_price_amount: int
    currency: str


async def insert_lines(session: AsyncSession, order_id: uuid.UUID, lines: Sequence[Line]) -> None:
    """An order's lines, one per variant; OrderPlaced, OrderConfirmed and OrderCancelled all carry them:
    kept once."""
    if not lines:
        return
    rows = [
        {
            "order_id": order_id,
            "variant_id": line.variant_id,
            "product_id": line.product_id,
            "quantity": line.quantity,
            "unit_price_amount": line.unit_price_amount,
            "currency": line.currency,
        }
        for line in lines
    ]
    await session.execute(insert(OrderLine).values(rows).on_conflict_do_nothing())


@dataclass(frozen=True, slots=True)
class Discount:
    promotion_id: uuid.UUID
    code: str | None
    name: str
    amount: int
    currency: str


async def insert_discounts(session: AsyncSession, order_id: uuid.UUID, discounts: Sequence[Discount]) -> None:
    """An order's discounts, one per promotion; every order event carries them: kept once."""
    if not discounts:
        return
    rows = [
        {
            "order_id": order_id,
            "promotion_id": discount.promotion_id,
            "code": discount.code,
            "name": discount.name,
            "amount": discount.amount,
            "currency": discount.currency,
        }
        for discount in discounts
    ]
    await session.execute(insert(OrderDiscount).values(rows).on_conflict_do_nothing())


async def insert_status_change(
    session: AsyncSession,
    *,
    event_id: uuid.UUID,
    order_id: uuid.UUID,
    status: str,
    previous_status: str | None,
    reason: str | None,
    at: datetime,
) -> None:
    await session.execute(
        insert(OrderStatusChange)
        .values(
            event_id=event_id,
            order_id=order_id,
            status=status,
            previous_status=previous_status,
            reason=reason,
            at=at,
        )
        .on_conflict_do_nothing()
    )


async def upsert_payment(session: AsyncSession, payment_id: uuid.UUID, **values: Any) -> None:
    """A payment's fact row: the charge's outcome and its refund fill in separately, first value kept."""
    statement = insert(PaymentFact).values(payment_id=payment_id, **values)
    kept = {
        name: func.coalesce(getattr(PaymentFact, name), getattr(statement.excluded, name))
        for name in values
        if name not in ("amount", "currency")
    }
    await session.execute(statement.on_conflict_do_update(index_elements=[PaymentFact.payment_id], set_=kept))


async def insert_user_event(
    session: AsyncSession, *, event_id: uuid.UUID, user_id: uuid.UUID, kind: str, at: datetime
) -> None:
    await session.execute(
        insert(UserEvent)
        .values(event_id=event_id, user_id=user_id, kind=kind, at=at)
        .on_conflict_do_nothing()
    )


async def add_product_activity(
    session: AsyncSession, day: date, *, views: dict[uuid.UUID, int], searches: dict[uuid.UUID, int]
) -> None:
    """Add to the day's counters of each product (one statement for all of them)."""
    rows = [
        {
            "product_id": product_id,
            "day": day,
            "views": views.get(product_id, 0),
            "searches": searches.get(product_id, 0),
        }
        for product_id in sorted({*views, *searches})  # sorted: concurrent consumers lock rows in one order
    ]
    if not rows:
        return
    statement = insert(ProductActivityDay).values(rows)
    statement = statement.on_conflict_do_update(
        index_elements=[ProductActivityDay.product_id, ProductActivityDay.day],
        set_={
            "views": ProductActivityDay.views + statement.excluded.views,
            "searches": ProductActivityDay.searches + statement.excluded.searches,
        },
    )
    await session.execute(statement)


async def upsert_product(session: AsyncSession, product_id: uuid.UUID, **values: Any) -> None:
    """The product as this event describes it, unless a newer event already did."""
    statement = insert(ProductFact).values(product_id=product_id, **values)
    statement = statement.on_conflict_do_update(
        index_elements=[ProductFact.product_id],
        set_={name: getattr(statement.excluded, name) for name in values},
        where=ProductFact.changed_at <= statement.excluded.changed_at,
    )
    await session.execute(statement)


async def upsert_stock_level(
    session: AsyncSession,
    variant_id: uuid.UUID,
    product_id: uuid.UUID,
    *,
    available: int,
    reserved: int,
    on_hand: int,
    at: datetime,
) -> None:
    statement = insert(StockLevelFact).values(
        variant_id=variant_id,
        product_id=product_id,
        available=available,
        reserved=reserved,
        on_hand=on_hand,
        changed_at=at,
    )
    statement = statement.on_conflict_do_update(
        index_elements=[StockLevelFact.variant_id],
        set_={
            "product_id": statement.excluded.product_id,
            "available": statement.excluded.available,
            "reserved": statement.excluded.reserved,
            "on_hand": statement.excluded.on_hand,
            "changed_at": statement.excluded.changed_at,
        },
        where=or_(
            StockLevelFact.changed_at.is_(None), StockLevelFact.changed_at <= statement.excluded.changed_at
        ),
    )
    await session.execute(statement)


async def record_stock_low(
    session: AsyncSession, variant_id: uuid.UUID, product_id: uuid.UUID, at: datetime
) -> None:
    statement = insert(StockLevelFact).values(
        variant_id=variant_id, product_id=product_id, low_alerts=1, last_low_at=at
    )
    statement = statement.on_conflict_do_update(
        index_elements=[StockLevelFact.variant_id],
        set_={
            "low_alerts": StockLevelFact.low_alerts + 1,
            "last_low_at": func.greatest(StockLevelFact.last_low_at, statement.excluded.last_low_at),
        },
    )
    await session.execute(statement)


# --- reads (the reports) ---------------------------------------------------------------------------------


def within_window(column: Any, start: datetime, end: datetime) -> Any:
    return and_(column >= start, column < end)


@dataclass(frozen=True, slots=True)
class CurrencySales:
    """One currency's order figures in a window (`currency` None for orders whose money is not known yet)."""

    currency: str | None
    placed: int
    confirmed: int
    gross: int
    cancelled: int
    refunded_orders: int
    refunded: int
    failed: int
    # The breakdown of the confirmed orders' totals, and of the refunded ones' (fact columns, BREAKDOWN_SUMS).
    items_net: int = 0
    discount_total: int = 0
    shipping_net: int = 0
    tax_total: int = 0
    refunded_items_net: int = 0
    refunded_discount_total: int = 0
    refunded_shipping_net: int = 0
    refunded_tax_total: int = 0


BREAKDOWN_COLUMNS = ("items_net", "discount_total", "shipping_net", "tax_total")


async def sales_by_currency(session: AsyncSession, start: datetime, end: datetime) -> list[CurrencySales]:
    o = OrderFact
    confirmed = within_window(o.confirmed_at, start, end)
    cancelled = within_window(o.cancelled_at, start, end)
    refunded = and_(cancelled, o.confirmed_at.is_not(None))
    statement = (
        select(
            o.currency,
            func.count().filter(within_window(o.placed_at, start, end)),
            func.count().filter(confirmed),
            func.coalesce(func.sum(o.total_amount).filter(confirmed), 0),
            func.count().filter(cancelled),
            func.count().filter(refunded),
            func.coalesce(func.sum(o.total_amount).filter(refunded), 0),
            func.count().filter(within_window(o.failed_at, start, end)),
            *(_sum(getattr(o, column), confirmed) for column in BREAKDOWN_COLUMNS),
            *(_sum(getattr(o, column), refunded) for column in BREAKDOWN_COLUMNS),
        )
        .where(
            or_(
                within_window(o.placed_at, start, end),
                confirmed,
                cancelled,
                within_window(o.failed_at, start, end),
            )
        )
        .group_by(o.currency)
        .order_by(o.currency)
    )
    return [
        CurrencySales(row[0], *(int(value) for value in row[1:])) for row in await session.execute(statement)
    ]


def _sum(column: Any, condition: Any) -> Any:
    # A fact without the breakdown (its money not seen yet) adds nothing.
    return func.coalesce(func.sum(func.coalesce(column, 0)).filter(condition), 0)


@dataclass(frozen=True, slots=True)
class PromotionUsage:
    promotion_id: uuid.UUID
    code: str | None
    name: str
    currency: str
    orders: int
    refunded_orders: int
    discount: int


async def voucher_usage(session: AsyncSession, start: datetime, end: datetime) -> list[PromotionUsage]:
    """Per (promotion, code, currency): orders confirmed in the window with its discount, those cancelled in
    the window after confirmation, and the discount of the first minus that of the second."""
    o, d = OrderFact, OrderDiscount
    confirmed = within_window(o.confirmed_at, start, end)
    refunded = and_(within_window(o.cancelled_at, start, end), o.confirmed_at.is_not(None))
    statement = (
        select(
            d.promotion_id,
            d.code,
            func.max(d.name),
            d.currency,
            func.count().filter(confirmed),
            func.count().filter(refunded),
            func.coalesce(func.sum(d.amount).filter(confirmed), 0)
            - func.coalesce(func.sum(d.amount).filter(refunded), 0),
        )
        .join(o, o.order_id == d.order_id)
        .where(or_(confirmed, refunded))
        .group_by(d.promotion_id, d.code, d.currency)
        .order_by(d.code.nulls_last(), d.promotion_id, d.currency)
    )
    return [
        PromotionUsage(row[0], row[1], row[2], row[3], int(row[4]), int(row[5]), int(row[6]))
        for row in await session.execute(statement)
    ]


@dataclass(frozen=True, slots=True)
class UserFigures:
    registrations: int
    logins: int
    users_logged_in: int
    active_buyers: int


async def user_figures(session: AsyncSession, start: datetime, end: datetime) -> UserFigures:
    in_window = within_window(UserEvent.at, start, end)
    events = (
        await session.execute(
            select(
                func.count().filter(UserEvent.kind == USER_REGISTERED),
                func.count().filter(UserEvent.kind == USER_LOGGED_IN),
                func.count(func.distinct(UserEvent.user_id)).filter(UserEvent.kind == USER_LOGGED_IN),
            ).where(UserEvent.kind.in_([USER_REGISTERED, USER_LOGGED_IN]), in_window)
        )
    ).one()
    buyers = await session.scalar(
        select(func.count(func.distinct(OrderFact.user_id))).where(
            within_window(OrderFact.confirmed_at, start, end)
        )
    )
    return UserFigures(int(events[0]), int(events[1]), int(events[2]), int(buyers or 0))
