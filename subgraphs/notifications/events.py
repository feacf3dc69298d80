"""The events notifications consumes, and what each one mails.

Each handler runs inside the consumer's transaction (`shared.consumer`), which also records the event as
processed: it only inserts PENDING notification rows, rendered and addressed, unique on (event, user, kind),
so an event delivered twice writes its mails once. The sender worker (`sender.py`) sends them after the
commit. Addresses and product names are asked of users and products here: a peer that is down fails the
handler, the consumer retries the event with backoff and, past its tries, dead-letters it for an admin to
replay; no mail is ever written without its real recipient.

- users `UserRegistered` {userId, email, name}: a welcome mail (the event carries the address).
- orders `OrderConfirmed` {orderId, userId, total, currency, items}: the confirmation with its lines.
- orders `OrderCancelled` {..., code, reason}: the cancellation with the reason.
- products `ProductUpdated` {productId, name, price, previousPrice, active}: a price drop (same currency,
  lower amount) mails every watcher of the product once per event.
- inventory `StockChanged` {productId, available, previousAvailable}: from 0 to more, every watcher is told
  it is back in stock (at most once per watcher and product within the cooldown).

Watchers are those watching when the change happened (the envelope's `occurred_at`): a watch made after it,
before the event was handled, is not told about it.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from shared.outbox import Event
from shared.subscriptions import ConsumerSpec, Subscription
from subgraphs.notifications import repository
from subgraphs.notifications.mail import Templates, format_money
from subgraphs.notifications.models import (
    Channel,
    NotificationKind,
    NotificationStatus,
    processed_events,
)
from subgraphs.notifications.peers import Directory, Recipient
from subgraphs.notifications.settings import NotificationsSettings

logger = logging.getLogger("myshop.notifications")

GROUP = "notifications"
# Tries of one event before it is dead-lettered: the consumer's backoff (full jitter under a ceiling of 0.5 s
# doubling to a minute) spreads them over about a minute on average (two at most), so a users or products
# restart costs a delay, not a dead letter.
MAX_ATTEMPTS = 9


class NotificationEvents:
    """The handlers, bound to this process's peers and templates."""

    def __init__(self, settings: NotificationsSettings, directory: Directory, templates: Templates) -> None:
        self.settings = settings
        self.directory = directory
        self.templates = templates

    # --- one recipient ---

    async def user_registered(self, session: AsyncSession, event: Event) -> None:
        payload = event.payload
        recipient = Recipient(user_id=str(payload["userId"]), email=payload["email"], name=payload["name"])
        values = {"name": recipient.name, "email": recipient.email}
        await self._write(
            session,
            event,
            NotificationKind.WELCOME,
            [recipient.user_id],
            {recipient.user_id: recipient},
            lambda _: values,
        )

    async def order_confirmed(self, session: AsyncSession, event: Event) -> None:
        await self._order_mail(session, event, NotificationKind.ORDER_CONFIRMED, {})

    async def order_cancelled(self, session: AsyncSession, event: Event) -> None:
        reason = event.payload.get("reason") or None
        await self._order_mail(session, event, NotificationKind.ORDER_CANCELLED, {"reason": reason})

    async def _order_mail(
        self, session: AsyncSession, event: Event, kind: NotificationKind, extra: dict[str, Any]
    ) -> None:
        payload = event.payload
        user_id = str(payload["userId"])
        currency = payload["currency"]
        items = payload.get("items") or []
        recipients = await self.directory.recipients([user_id])
        products = await self.directory.products_named(str(item["productId"]) for item in items)
        lines = [
            {
                "name": products[str(item["productId"])].name
                if str(item["productId"]) in products
                else f"Product {item['productId']}",
                "quantity": item["quantity"],
                "unit_price": format_money(item["unitPrice"], currency),
                "line_total": format_money(item["unitPrice"] * item["quantity"], currency),
            }
            for item in items
        ]
        order_id = str(payload["orderId"])
        common = {
            "order_id": order_id,
            "order_number": order_id[:8].upper(),
            "lines": lines,
            "total": format_money(payload["total"], currency),
            **extra,
        }
        await self._write(session, event, kind, [user_id], recipients, lambda r: {**common, "name": r.name})

    # --- the watchers of a product ---

    async def product_updated(self, session: AsyncSession, event: Event) -> None:
        payload = event.payload
        price, previous = payload.get("price") or {}, payload.get("previousPrice")
        dropped = (
            isinstance(previous, Mapping)
            and previous.get("currency") == price.get("currency")
            and int(price.get("amount", 0)) < int(previous.get("amount", 0))
            and payload.get("active", True)
        )
        if not dropped:
            return
        product_id = uuid.UUID(str(payload["productId"]))
        watchers = [
            str(user_id)
            for user_id in await repository.watchers_of(session, product_id, as_of=event.occurred_at)
        ]
        if not watchers:
            return
        assert isinstance(previous, Mapping)
        values = {
            "product_name": payload["name"],
            "price": format_money(price["amount"], price["currency"]),
            "previous_price": format_money(previous["amount"], previous["currency"]),
        }
        recipients = await self.directory.recipients(watchers)
        await self._write(
            session,
            event,
            NotificationKind.PRICE_DROP,
            watchers,
            recipients,
            lambda r: {**values, "name": r.name},
            product_id=product_id,
        )

    async def stock_changed(self, session: AsyncSession, event: Event) -> None:
        payload = event.payload
        previous = payload.get("previousAvailable")
        if previous is None or int(previous) > 0 or int(payload.get("available", 0)) <= 0:
            return
        product_id = uuid.UUID(str(payload["productId"]))
        kind = NotificationKind.BACK_IN_STOCK
        watchers = await repository.watchers_of(session, product_id, as_of=event.occurred_at)
        if not watchers:
            return
        await repository.lock_product_alerts(session, product_id)
        recently = await repository.recently_notified(
            session, product_id, kind, self.settings.back_in_stock_cooldown_seconds
        )
        due = [str(user_id) for user_id in watchers if user_id not in recently]
        if not due:
            return
        product = (await self.directory.products_named([str(product_id)])).get(str(product_id))
        if product is None or not product.active:
            return  # not for sale (archived, or unknown to the catalog): nothing to tell
        recipients = await self.directory.recipients(due)
        await self._write(
            session,
            event,
            kind,
            due,
            recipients,
            lambda r: {"product_name": product.name, "name": r.name},
            product_id=product_id,
        )

    # --- writing ---

    async def _write(
        self,
        session: AsyncSession,
        event: Event,
        kind: NotificationKind,
        user_ids: Sequence[str],
        recipients: Mapping[str, Recipient],
        values_for: Callable[[Recipient], dict[str, Any]],
        *,
        product_id: uuid.UUID | None = None,
    ) -> int:
        """One PENDING row per user, rendered for them; a user the users service does not know gets a FAILED
        row saying so (nothing silently dropped)."""
        rows: list[dict[str, Any]] = []
        for user_id in user_ids:
            recipient = recipients.get(user_id)
            known = recipient is not None
            if recipient is None:
                recipient = Recipient(user_id=user_id, email="", name="customer")
            mail = self.templates.render(kind, values_for(recipient))
            rows.append(
                {
                    "id": uuid.uuid4(),
                    "user_id": uuid.UUID(user_id),
                    "kind": kind.value,
                    "channel": Channel.EMAIL.value,
                    "event_id": event.id,
                    "product_id": product_id,
                    "recipient": recipient.email if known else None,
                    "subject": mail.subject,
                    "body": mail.text,
                    "body_html": mail.html,
                    "status": (NotificationStatus.PENDING if known else NotificationStatus.FAILED).value,
                    "failure_reason": None if known else "The users service knows no such user.",
                }
            )
        inserted = await repository.insert_notifications(session, rows)
        if inserted < len(rows):
            logger.info(
                "event %s: %d of %d %s mails existed already", event.id, len(rows) - inserted, len(rows), kind
            )
        return inserted


def consumer_spec(events: NotificationEvents) -> ConsumerSpec:
    """What notifications consumes, its handlers bound to the process's `NotificationEvents` (peers, mail)."""
    return ConsumerSpec(
        group=GROUP,
        subscriptions=[
            Subscription("users", {"UserRegistered": events.user_registered}),
            Subscription(
                "orders", {"OrderConfirmed": events.order_confirmed, "OrderCancelled": events.order_cancelled}
            ),
            Subscription("products", {"ProductUpdated": events.product_updated}),
            Subscription("inventory", {"StockChanged": events.stock_changed}),
        ],
        processed=processed_events,
        max_attempts=MAX_ATTEMPTS,
    )
