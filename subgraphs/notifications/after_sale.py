"""The after-sale mails (issue 18), each to the order's customer (the directory's address), once per event
like every mail: shipping's `ShipmentShipped` ("your order is on its way": carrier, tracking number and link,
the lines with their variant labels and quantities) and `ShipmentDelivered`; orders' `ReturnApproved` (what to
send back), `ReturnRejected` (the reason) and `ReturnRefunded` (the amount given back). What they show comes
from the payload alone: the events carry each line's product name and variant label as the order froze them,
so these mails ask no peer but users.

A tracking link comes from a partner: it goes in a mail only as an http(s) URL of bounded length (never a
`javascript:` or `data:` link), else the mail gives the carrier and the number alone.
"""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable, Mapping, Sequence
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlsplit

from sqlalchemy.ext.asyncio import AsyncSession

from shared.outbox import Event
from shared.subscriptions import Handler
from subgraphs.notifications.mail import format_money
from subgraphs.notifications.models import NotificationKind
from subgraphs.notifications.peers import Directory

MAX_TRACKING_URL = 2048


def number(identifier: object) -> str:
    """The short number the mails give an order or a return: its id's first 8 characters, upper case."""
    return str(identifier)[:8].upper()


def tracking_link(value: object) -> str | None:
    """The tracking URL when it is an http(s) URL with a host, else None."""
    if not isinstance(value, str) or not value or len(value) > MAX_TRACKING_URL:
        return None
    if any(ord(char) < 0x21 or ord(char) == 0x7F for char in value):
        return None  # whitespace or control characters: not a link to click
    try:
        parts = urlsplit(value)
    except ValueError:
        return None
    return value if parts.scheme in ("http", "https") and parts.netloc else None


def item_lines(lines: object) -> list[dict[str, Any]]:
    """Shipment or return lines as the mails list them: `2 x T-Shirt — M / Red`."""
    if not isinstance(lines, Sequence):
        return []
    listed = []
    for line in lines:
        if not isinstance(line, Mapping):
            continue
        name = str(line.get("productName") or "Item")
        label = line.get("variantLabel")
        listed.append(
            {
                "name": f"{name} — {label}" if label else name,
                "quantity": int(line.get("quantity") or 0),
                "refund": None,  # a refunded return's lines say what each gave back (return_values)
            }
        )
    return listed


def _day(value: object) -> str | None:
    if not isinstance(value, str):
        return None
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        return None
    moment = moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC).strftime("%d %B %Y")


def shipment_values(payload: Mapping[str, Any]) -> dict[str, Any]:
    """A shipment's mail: its order, carrier, tracking, lines; `partial` when the order is not all on its way
    (PARTIALLY_FULFILLED after this shipment): the mail says the rest follows."""
    order_id = str(payload["orderId"])
    return {
        "order_id": order_id,
        "order_number": number(order_id),
        "carrier": payload.get("carrier") or None,
        "tracking_number": payload.get("trackingNumber") or None,
        "tracking_url": tracking_link(payload.get("trackingUrl")),
        "lines": item_lines(payload.get("lines")),
        "partial": payload.get("fulfillmentStatus") == "PARTIALLY_FULFILLED",
        "shipped_on": _day(payload.get("shippedAt")),
        "delivered_on": _day(payload.get("deliveredAt")),
    }


def return_values(payload: Mapping[str, Any]) -> dict[str, Any]:
    """A return's mail: its number, its order, its lines, the customer's reason and the rejection's."""
    order_id = str(payload["orderId"])
    return {
        "return_id": str(payload["returnId"]),
        "return_number": number(payload["returnId"]),
        "order_id": order_id,
        "order_number": number(order_id),
        "lines": item_lines(payload.get("lines")),
        "reason": payload.get("reason") or None,
        "rejection_reason": payload.get("rejectionReason") or None,
        "refund_total": None,
    }


def refunded_return_values(payload: Mapping[str, Any]) -> dict[str, Any]:
    """A refunded return's mail: `return_values`, each line with what it gave back and the refund's total,
    in the return's currency (minor units formatted like every mail's money)."""
    values = return_values(payload)
    currency = str(payload.get("currency") or "")
    raw_lines = [line for line in payload.get("lines") or [] if isinstance(line, Mapping)]
    for shown, raw in zip(values["lines"], raw_lines, strict=False):
        shown["refund"] = _money(raw.get("refund"), currency)
    refund = payload.get("refund")
    values["refund_total"] = _money(refund.get("total") if isinstance(refund, Mapping) else None, currency)
    return values


def _money(amount: object, currency: str) -> str | None:
    return format_money(amount, currency) if type(amount) is int and currency else None


Values = Callable[[Mapping[str, Any]], dict[str, Any]]


class AfterSaleMails:
    """The after-sale handlers of `events.NotificationEvents`, which supplies the directory and `_write`."""

    directory: Directory
    _write: Callable[..., Awaitable[int]]

    def shipment_handlers(self) -> dict[str, Handler]:
        """shipping's stream."""
        return {"ShipmentShipped": self.shipment_shipped, "ShipmentDelivered": self.shipment_delivered}

    def return_handlers(self) -> dict[str, Handler]:
        """orders' stream, beside its order and cart handlers."""
        return {
            "ReturnApproved": self.return_approved,
            "ReturnRejected": self.return_rejected,
            "ReturnRefunded": self.return_refunded,
        }

    async def shipment_shipped(self, session: AsyncSession, event: Event) -> None:
        await self._customer_mail(session, event, NotificationKind.SHIPMENT_SHIPPED, shipment_values)

    async def shipment_delivered(self, session: AsyncSession, event: Event) -> None:
        await self._customer_mail(session, event, NotificationKind.SHIPMENT_DELIVERED, shipment_values)

    async def return_approved(self, session: AsyncSession, event: Event) -> None:
        await self._customer_mail(session, event, NotificationKind.RETURN_APPROVED, return_values)

    async def return_rejected(self, session: AsyncSession, event: Event) -> None:
        await self._customer_mail(session, event, NotificationKind.RETURN_REJECTED, return_values)

    async def return_refunded(self, session: AsyncSession, event: Event) -> None:
        await self._customer_mail(session, event, NotificationKind.RETURN_REFUNDED, refunded_return_values)

    async def _customer_mail(
        self, session: AsyncSession, event: Event, kind: NotificationKind, values_of: Values
    ) -> None:
        """One mail to the customer the event names (`userId`), at the directory's address."""
        user_id = str(uuid.UUID(str(event.payload["userId"])))
        values = values_of(event.payload)
        recipients = await self.directory.recipients([user_id])
        await self._write(session, event, kind, [user_id], recipients, lambda r: {**values, "name": r.name})
