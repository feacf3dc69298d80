"""What orders holds on a user, its part of `exportMyData`, and how it forgets them (the map:
subgraphs/users/privacy.py).

Orders hold a user id, amounts, statuses and product names: the books keep all of it when a user is
deleted. Carts are not books: a cart freezes the customer's shipping and billing addresses (and a voucher
they typed), so on users' `UserDeleted` their carts go, whatever their status, with their lines. A return's
reason is the customer's own words: it is emptied in their returns and in the returns' events (the return,
its lines and its refund stay with the books). The outbox rows about them get their personal keys emptied
(`shared.privacy.scrub_outbox`), and the consumer's dead letters are scrubbed like every consumer's.
"""

from __future__ import annotations

import uuid
from typing import Any

import strawberry
from sqlalchemy import ARRAY, Text, delete, func, literal, select, update
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.ext.asyncio import AsyncSession
from strawberry.scalars import JSON
from strawberry.types import Info

from shared.context import Runtime
from shared.outbox import Event
from shared.privacy import (
    ExportPart,
    dead_letters_of,
    forget_in_dead_letters,
    iso,
    parse_user_id,
    scrub_outbox,
)
from shared.subscriptions import ConsumerSpec, Handler
from subgraphs.orders import cart_repository, repository
from subgraphs.orders import returns_repository as returns_sql
from subgraphs.orders.events import RETURN_EVENTS
from subgraphs.orders.models import Cart, Order, Return, outbox, processed_events

# The consumer group of orders: users' `UserDeleted` here, shipping's `Shipment*` added by fulfillment.py
# (its dead letters: `<prefix>deadletter:orders`).
GROUP = "orders"
CONSUMER = ConsumerSpec(group=GROUP, subscriptions=[], processed=processed_events)


async def forget(session: AsyncSession, user_id: uuid.UUID) -> int:
    """Delete the user's carts (their lines cascade) and scrub their outbox rows; returns the carts gone."""
    deleted = await session.execute(delete(Cart).where(Cart.user_id == user_id).returning(Cart.id))
    await session.execute(update(Return).where(Return.user_id == user_id).values(reason=""))
    events = outbox.table
    await session.execute(
        update(events)
        .where(events.c.payload["userId"].astext == str(user_id), events.c.event_type.in_(RETURN_EVENTS))
        .values(
            payload=func.jsonb_set(events.c.payload, literal(["reason"], ARRAY(Text)), literal("", JSONB))
        )
    )
    await scrub_outbox(session, outbox.table, str(user_id))
    return len(deleted.all())


def user_deleted(runtime: Runtime[Any], spec: ConsumerSpec) -> Handler:
    """The `UserDeleted` handler of this process (its Redis holds the dead letters)."""
    stream = dead_letters_of(runtime, spec)

    async def handle(session: AsyncSession, event: Event) -> None:
        user_id = parse_user_id(event.payload)
        await forget(session, user_id)
        await forget_in_dead_letters(runtime.redis, stream, str(user_id))

    return handle


async def export(session: AsyncSession, user_id: uuid.UUID) -> list[dict[str, Any]]:
    orders = list(
        await session.scalars(
            select(Order).where(Order.user_id == user_id).order_by(Order.created_at, Order.id)
        )
    )
    ids = [order.id for order in orders]
    items = await repository.items_of(session, ids)
    history = await repository.history_of(session, ids)
    returns = await returns_sql.returns_of_orders(session, ids)
    return_lines = await returns_sql.lines_of(session, [row.id for rows in returns.values() for row in rows])
    return [
        {
            "id": str(order.id),
            "status": order.status,
            "total": order.total_amount,
            "currency": order.currency,
            "paymentMethod": order.payment_method,
            "failureCode": order.failure_code,
            "failureReason": order.failure_reason,
            "createdAt": iso(order.created_at),
            "items": [
                {
                    "productId": str(item.product_id),
                    "variantId": str(item.variant_id),
                    "productName": item.product_name,
                    "quantity": item.quantity,
                    "unitPrice": item.unit_price_amount,
                }
                for item in items.get(order.id, [])
            ],
            "statusHistory": [
                {"status": change.status, "reason": change.reason, "at": iso(change.at)}
                for change in history.get(order.id, [])
            ],
            "returns": [
                {
                    "id": str(row.id),
                    "status": row.status,
                    "reason": row.reason,
                    "rejectionReason": row.rejection_reason,
                    "refundTotal": row.refund_total,
                    "currency": row.currency,
                    "createdAt": iso(row.created_at),
                    "lines": [
                        {"line": line.line, "quantity": line.quantity, "refund": line.refund}
                        for line in return_lines.get(row.id, [])
                    ],
                }
                for row in returns.get(order.id, [])
            ],
        }
        for order in orders
    ]


async def export_carts(session: AsyncSession, user_id: uuid.UUID) -> list[dict[str, Any]]:
    carts = list(
        await session.scalars(select(Cart).where(Cart.user_id == user_id).order_by(Cart.created_at, Cart.id))
    )
    lines = await cart_repository.lines_of(session, [cart.id for cart in carts])
    return [
        {
            "id": str(cart.id),
            "status": cart.status,
            "currency": cart.currency,
            "shippingAddress": cart.shipping_address,
            "billingAddress": cart.billing_address,
            "shippingMethodId": cart.shipping_method_id,
            "voucherCode": cart.voucher_code,
            "createdAt": iso(cart.created_at),
            "lastActivityAt": iso(cart.last_activity_at),
            "lines": [
                {
                    "productId": str(line.product_id),
                    "variantId": str(line.variant_id),
                    "quantity": line.quantity,
                    "unitPrice": line.seen_unit_price_amount,
                    "currency": line.seen_currency,
                    "addedAt": iso(line.added_at),
                }
                for line in lines.get(cart.id, [])
            ],
        }
        for cart in carts
    ]


@strawberry.federation.type(keys=["userId"])
class PersonalDataExport(ExportPart):
    @strawberry.field(
        description="The user's orders with their lines, status history and returns, oldest first."
    )
    async def orders(self, info: Info) -> JSON:
        return await export(info.context.session, self.user_uuid)

    @strawberry.field(
        description="The user's carts (any status) with their addresses and lines, oldest first."
    )
    async def carts(self, info: Info) -> JSON:
        return await export_carts(info.context.session, self.user_uuid)
