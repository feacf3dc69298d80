"""The events analytics consumes: one handler per event type of every producer, each turning an event into
facts (repository.py) inside the consumer framework's transaction.

Handlers are written for at-least-once delivery across six streams with no order between them: the framework
skips an event id it already applied, and each handler only fills in what its event tells (upserts that keep a
known value), so a late or replayed event never undoes a newer one. A payload that cannot be read raises, so
the event is retried and then dead-lettered with the reason, not silently lost.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from datetime import datetime
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from shared.outbox import Event
from shared.subscriptions import ConsumerSpec, Handler, Subscription
from subgraphs.analytics import after_sale_repository, repository
from subgraphs.analytics.after_sale_repository import ReturnedLine
from subgraphs.analytics.models import USER_LOGGED_IN, USER_REGISTERED, processed_events
from subgraphs.analytics.repository import Discount, Line

GROUP = "analytics"


class UnreadableEvent(ValueError):
    """A payload without a field the handler needs, or with one of the wrong kind."""


def _uuid(payload: Mapping[str, Any], name: str) -> uuid.UUID:
    return _as_uuid(payload.get(name), name)


def _as_uuid(value: object, name: str) -> uuid.UUID:
    try:
        return uuid.UUID(str(value))
    except ValueError as exc:
        raise UnreadableEvent(f"`{name}` is not an id: {value!r}") from exc


def _optional_uuid(payload: Mapping[str, Any], name: str) -> uuid.UUID | None:
    return _uuid(payload, name) if payload.get(name) is not None else None


def _variant_of(payload: Mapping[str, Any]) -> tuple[uuid.UUID, uuid.UUID]:
    """(variant, product) an order line or a stock event is about. An event older than variants has no
    `variantId`: its product was sold as one thing, whose one variant shares the product's id."""
    product_id = _uuid(payload, "productId")
    return _optional_uuid(payload, "variantId") or product_id, product_id


def _int(payload: Mapping[str, Any], name: str) -> int:
    value = payload.get(name)
    if type(value) is not int:
        raise UnreadableEvent(f"`{name}` is not an integer: {value!r}")
    return value


def _str(payload: Mapping[str, Any], name: str) -> str:
    value = payload.get(name)
    if not isinstance(value, str):
        raise UnreadableEvent(f"`{name}` is not a string: {value!r}")
    return value


def _time(payload: Mapping[str, Any], name: str, default: datetime) -> datetime:
    """The payload's own time of the fact when it has a valid, zoned one; else the event's time."""
    return _moment(payload, name) or default


def _moment(payload: Mapping[str, Any], name: str) -> datetime | None:
    """A valid, zoned time of the payload, or None."""
    value = payload.get(name)
    if not isinstance(value, str):
        return None
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        return None
    return parsed if parsed.tzinfo is not None else None


# --- orders ------------------------------------------------------------------------------------------------


# The price breakdown orders' events carry (payload key -> fact column); an event older than it has none: 0.
BREAKDOWN = {
    "itemsNet": "items_net",
    "discountTotal": "discount_total",
    "shippingNet": "shipping_net",
    "taxTotal": "tax_total",
}


def _optional_int(payload: Mapping[str, Any], name: str) -> int:
    return _int(payload, name) if payload.get(name) is not None else 0


def _order_money(payload: Mapping[str, Any]) -> tuple[dict[str, Any], list[Line]]:
    currency = _str(payload, "currency")
    values = {
        "user_id": _uuid(payload, "userId"),
        "currency": currency,
        "total_amount": _int(payload, "total"),
        **{column: _optional_int(payload, key) for key, column in BREAKDOWN.items()},
    }
    items = payload.get("items")
    if not isinstance(items, list):
        raise UnreadableEvent(f"`items` is not a list: {items!r}")
    lines = [
        Line(*_variant_of(item), _int(item, "quantity"), _int(item, "unitPrice"), currency) for item in items
    ]
    return values, lines


def _discounts(payload: Mapping[str, Any]) -> list[Discount]:
    discounts = payload.get("discounts") or []
    if not isinstance(discounts, list):
        raise UnreadableEvent(f"`discounts` is not a list: {discounts!r}")
    currency = _str(payload, "currency")
    found = []
    for discount in discounts:
        if not isinstance(discount, Mapping):
            raise UnreadableEvent(f"a discount is not an object: {discount!r}")
        code = discount.get("code")
        found.append(
            Discount(
                promotion_id=_uuid(discount, "promotionId"),
                code=str(code)[:64] if code is not None else None,
                name=str(discount.get("name") or "")[:100],
                amount=_int(discount, "amount"),
                currency=currency,
            )
        )
    return found


async def _order_facts(session: AsyncSession, event: Event, **transition: Any) -> None:
    """OrderPlaced, OrderConfirmed and OrderCancelled all carry the money, lines and discounts: kept once."""
    values, lines = _order_money(event.payload)
    order_id = _uuid(event.payload, "orderId")
    discounts = _discounts(event.payload)
    await repository.upsert_order(session, order_id, **transition, **values)
    await repository.insert_lines(session, order_id, lines)
    await repository.insert_discounts(session, order_id, discounts)


async def order_placed(session: AsyncSession, event: Event) -> None:
    await _order_facts(session, event, placed_at=event.occurred_at)


async def order_confirmed(session: AsyncSession, event: Event) -> None:
    await _order_facts(session, event, confirmed_at=event.occurred_at)


async def order_cancelled(session: AsyncSession, event: Event) -> None:
    code = event.payload.get("code")
    await _order_facts(
        session,
        event,
        cancelled_at=event.occurred_at,
        cancel_code=str(code)[:64] if code is not None else None,
    )


async def order_status_changed(session: AsyncSession, event: Event) -> None:
    payload = event.payload
    order_id = _uuid(payload, "orderId")
    status = _str(payload, "status")
    previous = payload.get("previousStatus")
    reason = payload.get("reason")
    await repository.insert_status_change(
        session,
        event_id=event.id,
        order_id=order_id,
        status=status,
        previous_status=str(previous) if previous is not None else None,
        reason=str(reason) if reason is not None else None,
        at=event.occurred_at,
    )
    # FAILED has no event of its own; CONFIRMED and CANCELLED are kept from theirs (which carry the money).
    values: dict[str, Any] = {"user_id": _optional_uuid(payload, "userId")}
    if status == "FAILED":
        values["failed_at"] = event.occurred_at
    await repository.upsert_order(session, order_id, **values)


# --- payments ----------------------------------------------------------------------------------------------


def _payment(payload: Mapping[str, Any]) -> dict[str, Any]:
    return {
        "order_id": _optional_uuid(payload, "orderId"),
        "user_id": _optional_uuid(payload, "userId"),
        "amount": _int(payload, "amount"),
        "currency": _str(payload, "currency"),
    }


async def payment_processed(session: AsyncSession, event: Event) -> None:
    payload = event.payload
    await repository.upsert_payment(
        session,
        _uuid(payload, "paymentId"),
        status=_str(payload, "status"),
        failure_reason=payload.get("failureReason"),
        processed_at=event.occurred_at,
        **_payment(payload),
    )


async def payment_refunded(session: AsyncSession, event: Event) -> None:
    """Each refund is kept on its own (`refund_facts`): since partial refunds, `amount` is what this refund
    gave back. An event without `refundId`/`partial` (older than partial refunds) is the full refund of
    `amount`. A full refund also marks its payment refunded, as before; a partial one leaves the payment's
    row alone (its amount is the charge's, not this refund's)."""
    payload = event.payload
    partial = payload.get("partial") is True
    money = _payment(payload)
    await after_sale_repository.insert_refund(
        session,
        _optional_uuid(payload, "refundId") or event.id,
        payment_id=_uuid(payload, "paymentId"),
        order_id=money["order_id"],
        amount=money["amount"],
        currency=money["currency"],
        partial=partial,
        refunded_at=event.occurred_at,
    )
    if not partial:
        await repository.upsert_payment(
            session,
            _uuid(payload, "paymentId"),
            refunded_at=event.occurred_at,
            refund_reason=payload.get("reason"),
            **money,
        )


# --- users -------------------------------------------------------------------------------------------------


async def user_registered(session: AsyncSession, event: Event) -> None:
    await repository.insert_user_event(
        session,
        event_id=event.id,
        user_id=_uuid(event.payload, "userId"),
        kind=USER_REGISTERED,
        at=_time(event.payload, "at", event.occurred_at),
    )


async def user_logged_in(session: AsyncSession, event: Event) -> None:
    await repository.insert_user_event(
        session,
        event_id=event.id,
        user_id=_uuid(event.payload, "userId"),
        kind=USER_LOGGED_IN,
        at=_time(event.payload, "at", event.occurred_at),
    )


# --- products ----------------------------------------------------------------------------------------------


async def product_updated(session: AsyncSession, event: Event) -> None:
    payload = event.payload
    price = payload.get("price")
    if not isinstance(price, dict):
        raise UnreadableEvent(f"`price` is not an amount: {price!r}")
    category = payload.get("category")
    await repository.upsert_product(
        session,
        _uuid(payload, "productId"),
        sku=_str(payload, "sku"),
        name=_str(payload, "name"),
        category=str(category) if category is not None else None,
        active=bool(payload.get("active", True)),
        price_amount=_int(price, "amount"),
        price_currency=_str(price, "currency"),
        changed_at=event.occurred_at,
    )


async def product_viewed(session: AsyncSession, event: Event) -> None:
    """Views are batched by products: one event carries `count` reads of one product (by one user)."""
    count = _int(event.payload, "count")
    if count > 0:
        views = {_uuid(event.payload, "productId"): count}
        await repository.add_product_activity(session, event.occurred_at.date(), views=views, searches={})


async def product_searched(session: AsyncSession, event: Event) -> None:
    """A search counts once for every product on its first page of results (`productIds`)."""
    listed = event.payload.get("productIds")
    if not isinstance(listed, list):
        raise UnreadableEvent(f"`productIds` is not a list: {listed!r}")
    searches: dict[uuid.UUID, int] = {}
    for value in listed:
        product_id = _as_uuid(value, "productIds[]")
        searches[product_id] = searches.get(product_id, 0) + 1
    await repository.add_product_activity(session, event.occurred_at.date(), views={}, searches=searches)


# --- inventory ---------------------------------------------------------------------------------------------


async def stock_changed(session: AsyncSession, event: Event) -> None:
    """A variant's stock level (inventory keeps stock per variant; `productId` is the variant's product)."""
    payload = event.payload
    await repository.upsert_stock_level(
        session,
        *_variant_of(payload),
        available=_int(payload, "available"),
        reserved=_int(payload, "reserved"),
        on_hand=_int(payload, "onHand"),
        at=event.occurred_at,
    )


async def stock_low(session: AsyncSession, event: Event) -> None:
    await repository.record_stock_low(session, *_variant_of(event.payload), event.occurred_at)


# --- shipping ---------------------------------------------------------------------------------------------


async def _shipment(event: Event, session: AsyncSession, **times: datetime | None) -> None:
    payload = event.payload
    await after_sale_repository.upsert_shipment(
        session,
        _uuid(payload, "shipmentId"),
        order_id=_uuid(payload, "orderId"),
        order_created_at=_moment(payload, "orderCreatedAt"),
        **times,
    )


async def shipment_shipped(session: AsyncSession, event: Event) -> None:
    """Every shipment event carries the whole shipment: its `shippedAt` (the event's time without one)."""
    shipped_at = _time(event.payload, "shippedAt", event.occurred_at)
    await _shipment(event, session, shipped_at=shipped_at, delivered_at=_moment(event.payload, "deliveredAt"))


async def shipment_delivered(session: AsyncSession, event: Event) -> None:
    delivered_at = _time(event.payload, "deliveredAt", event.occurred_at)
    await _shipment(event, session, shipped_at=_moment(event.payload, "shippedAt"), delivered_at=delivered_at)


# --- returns (orders) --------------------------------------------------------------------------------------


async def return_refunded(session: AsyncSession, event: Event) -> None:
    """A refunded return: its refund's breakdown {subtotal, discount, tax, shipping, total} and its lines.
    Orders' rule (returns_refund.py): `tax` is the lines' tax shares, `shipping` what the order charged
    beyond its lines (its shipping with the shipping's tax; only on the return completing the order), total
    = the lines' refunds + shipping. So the returned lines' net (without tax or shipping, after discount) is
    total - shipping - tax in either tax mode; the shipping is split into net and tax by the report."""
    payload = event.payload
    refund = payload.get("refund")
    if not isinstance(refund, Mapping):
        raise UnreadableEvent(f"`refund` is not a breakdown: {refund!r}")
    lines = payload.get("lines")
    if not isinstance(lines, list):
        raise UnreadableEvent(f"`lines` is not a list: {lines!r}")
    returned = []
    for line in lines:
        if not isinstance(line, Mapping):
            raise UnreadableEvent(f"a line is not an object: {line!r}")
        variant_id, product_id = _variant_of(line)
        returned.append(ReturnedLine(_int(line, "line"), product_id, variant_id, _int(line, "quantity")))
    total = _int(refund, "total")
    shipping, tax = _optional_int(refund, "shipping"), _optional_int(refund, "tax")
    await after_sale_repository.insert_return(
        session,
        _uuid(payload, "returnId"),
        returned,
        order_id=_uuid(payload, "orderId"),
        currency=_str(payload, "currency"),
        items_net=total - shipping - tax,
        discount_total=_optional_int(refund, "discount"),
        tax_total=tax,
        shipping=shipping,
        total=total,
        refunded_at=event.occurred_at,
    )


# --- the subscriptions -------------------------------------------------------------------------------------

HANDLERS: dict[str, dict[str, Handler]] = {
    "users": {"UserRegistered": user_registered, "UserLoggedIn": user_logged_in},
    "products": {
        "ProductUpdated": product_updated,
        "ProductViewed": product_viewed,
        "ProductSearched": product_searched,
    },
    "inventory": {"StockChanged": stock_changed, "StockLow": stock_low},
    "payments": {"PaymentProcessed": payment_processed, "PaymentRefunded": payment_refunded},
    "orders": {
        "OrderPlaced": order_placed,
        "OrderConfirmed": order_confirmed,
        "OrderCancelled": order_cancelled,
        "OrderStatusChanged": order_status_changed,
        "ReturnRefunded": return_refunded,
    },
    "shipping": {"ShipmentShipped": shipment_shipped, "ShipmentDelivered": shipment_delivered},
}

CONSUMER = ConsumerSpec(
    group=GROUP,
    subscriptions=[
        Subscription(producer=producer, handlers=handlers) for producer, handlers in HANDLERS.items()
    ],
    processed=processed_events,
)
