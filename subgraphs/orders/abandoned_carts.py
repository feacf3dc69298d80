"""The abandoned-cart worker: a signed-in customer's cart with lines, idle past the setting, emits
`CartAbandoned` once per idle period (notifications mails the reminder).

Each pass takes a batch of due carts `FOR UPDATE SKIP LOCKED` and, in the same transaction, writes their
events to the outbox and stamps `abandoned_notified_at`: replicas never tell a cart twice, and a crash tells
it not at all rather than twice. Activity after the stamp (`last_activity_at` moves) makes the cart due again.
Guests' carts are never told: there is nobody to mail.
"""

from __future__ import annotations

import asyncio
import logging
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import exists, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from shared.context import Runtime
from subgraphs.orders import cart_repository
from subgraphs.orders.events import OrderEvent
from subgraphs.orders.models import Cart, CartLine, CartStatus, outbox
from subgraphs.orders.settings import OrdersSettings
from subgraphs.orders.state import OrdersState

logger = logging.getLogger(__name__)


def _payload(cart: Cart, lines: list[CartLine]) -> dict[str, Any]:
    # The price the customer last saw on each line: a reminder shows what they left, not a fresh quote
    # (the cart itself is re-priced when they come back).
    return {
        "cartId": str(cart.id),
        "userId": str(cart.user_id),
        "currency": cart.currency or lines[0].seen_currency,
        "subtotal": sum(line.seen_unit_price_amount * line.quantity for line in lines),
        "lines": [
            {
                "productId": str(line.product_id),
                "variantId": str(line.variant_id),
                "quantity": line.quantity,
                "unitPrice": line.seen_unit_price_amount,
            }
            for line in lines
        ],
        "lastActivityAt": cart.last_activity_at.isoformat(),
    }


async def tell_abandoned(
    session: AsyncSession, settings: OrdersSettings, *, now: datetime | None = None
) -> int:
    """One pass in the caller's transaction: emit `CartAbandoned` for up to a batch of due carts; returns
    how many were told."""
    told_at = datetime.now(UTC)
    # `now` moves only the idle horizon (tests look ahead); the stamp is the real time of telling.
    now = now or told_at
    idle_since = now - timedelta(seconds=settings.cart_abandoned_after_seconds)
    carts = list(
        await session.scalars(
            select(Cart)
            .where(
                Cart.status == CartStatus.ACTIVE.value,
                Cart.user_id.is_not(None),
                Cart.last_activity_at < idle_since,
                or_(Cart.abandoned_notified_at.is_(None), Cart.abandoned_notified_at < Cart.last_activity_at),
                exists().where(CartLine.cart_id == Cart.id),
            )
            .order_by(Cart.last_activity_at)
            .limit(settings.abandoned_carts_batch)
            .with_for_update(skip_locked=True, of=Cart)
        )
    )
    if not carts:
        return 0
    lines = await cart_repository.lines_of(session, [cart.id for cart in carts])
    for cart in carts:
        await outbox.emit(
            session, OrderEvent.CART_ABANDONED, _payload(cart, lines[cart.id]), aggregate_id=cart.id
        )
        # Not `last_activity_at`: the stamp is no activity of the customer's.
        cart.abandoned_notified_at = told_at
    await session.flush()
    return len(carts)


async def run_abandoned_carts(runtime: Runtime[OrdersState]) -> None:
    """The worker: a pass every `abandoned_carts_interval_seconds`, at once again while batches come full."""
    settings = runtime.state.settings
    while True:
        told = 0
        try:
            async with runtime.sessionmaker() as session, session.begin():
                told = await tell_abandoned(session, settings)
        except Exception:
            logger.exception("abandoned-cart pass failed")
        if told < settings.abandoned_carts_batch:
            await asyncio.sleep(settings.abandoned_carts_interval_seconds)
