"""The events notifications consumes, and what each one mails.

Each handler runs inside the consumer's transaction (`shared.consumer`), which also records the event as
processed: it only inserts PENDING notification rows, rendered and addressed, unique on (event, user, kind),
so an event delivered twice writes its mails once. The sender worker (`sender.py`) sends them after the
commit. Addresses and product names are asked of users and products here: a peer that is down fails the
handler, the consumer retries the event with backoff and, past its tries, dead-letters it for an admin to
replay; no mail is ever written without its real recipient.

- users `UserRegistered` {userId, email, name, verificationToken?, verificationExpiresAt?}: a welcome mail
  that also asks to confirm the address (code + link) when the event carries a verification token.
- users, the account's mails, each to the address the event names (never the directory's: an email change
  mails an address the account does not have yet): `EmailVerificationRequested` (confirm the address),
  `SignUpAttempted` (someone registered with this address), `PasswordResetRequested` (the reset code),
  `PasswordChanged` (a security notice), `EmailChangeRequested` (two mails: the code to the new address, a
  notice to the previous one), `EmailChanged` (a notice to the previous address). `EmailVerified` mails
  nothing. (`UserDeleted` is privacy.py's: the user's mails and watches go.)
- orders `OrderConfirmed` {orderId, userId, total, currency, items}: the confirmation with its lines (each
  named after its product, and its variant's option values when it has any: "T-Shirt — M / Red"), and
  the price's breakdown (subtotal, discounts with their codes, shipping with its method, tax lines) when the
  event carries it (`subtotal`: orders' pricing); an older event shows the lines and the total.
- orders `CartAbandoned` {cartId, userId, currency, subtotal, lines, lastActivityAt}: a reminder with the
  lines left in the cart, to the user (the directory's address), at most once per event and once per user
  within `cart_reminder_cooldown_seconds`.
- orders `OrderCancelled` {..., code, reason}: the cancellation with the reason.
- After the sale: shipping's `ShipmentShipped`/`ShipmentDelivered`, orders' `ReturnApproved`/`Rejected`/
  `Refunded`, each a mail to the order's customer (after_sale.py).
- products `ProductUpdated` {productId, name, price, previousPrice, active}: a price drop (same currency,
  lower amount) mails every watcher of the product once per event.
- inventory `StockChanged` {productId, variantId, available, previousAvailable}: stock is per variant, watches
  per product: when ANY variant goes from 0 to more (even while another was in stock), every watcher is told
  (once per watcher and product within the cooldown), naming the variant ("T-Shirt — M / Red"); no
  `variantId` (older events): the product's own variant. An archived variant mails nobody.

A one-time token comes sealed (`shared.sealed`) and stays sealed in its row, the bodies holding `TOKEN_MASK`:
the sender opens it just before sending and the row forgets it once SENT or FAILED.

Watchers are those watching when the change happened (the envelope's `occurred_at`): a watch made after it,
before the event was handled, is not told about it.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from shared.outbox import Event
from shared.subscriptions import ConsumerSpec, Subscription
from subgraphs.notifications import repository
from subgraphs.notifications.after_sale import AfterSaleMails
from subgraphs.notifications.mail import TOKEN_MASK, Templates, format_money, without_mask
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

# The purposes users seals its tokens for (the contract of issue 14), and the frontend page each opens.
EMAIL_VERIFICATION = "email-verification"
PASSWORD_RESET = "password-reset"
EMAIL_CHANGE = "email-change"
TOKEN_PAGES = {
    EMAIL_VERIFICATION: "verify-email",
    PASSWORD_RESET: "reset-password",
    EMAIL_CHANGE: "confirm-email-change",
}


@dataclass(frozen=True, slots=True)
class SealedToken:
    """A one-time token as the event carried it: sealed for `purpose`, working until `expires_at`."""

    purpose: str
    sealed: str
    expires_at: datetime

    @classmethod
    def from_payload(cls, payload: Mapping[str, Any], purpose: str, token: str, expires: str) -> SealedToken:
        return cls(purpose=purpose, sealed=str(payload[token]), expires_at=_instant(payload[expires]))


def _instant(value: object) -> datetime:
    moment = datetime.fromisoformat(str(value))
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)


class NotificationEvents(AfterSaleMails):
    """The handlers, bound to this process's peers and templates."""

    def __init__(self, settings: NotificationsSettings, directory: Directory, templates: Templates) -> None:
        self.settings = settings
        self.directory = directory
        self.templates = templates

    # --- one recipient ---

    async def user_registered(self, session: AsyncSession, event: Event) -> None:
        payload = event.payload
        token = None
        if payload.get("verificationToken"):  # an older producer sent none: a welcome without a code
            token = SealedToken.from_payload(
                payload, EMAIL_VERIFICATION, "verificationToken", "verificationExpiresAt"
            )
        await self._account_mail(session, event, NotificationKind.WELCOME, to=payload["email"], token=token)

    # --- the account's mails (users' events), to the address the event names ---

    async def email_verification_requested(self, session: AsyncSession, event: Event) -> None:
        token = SealedToken.from_payload(event.payload, EMAIL_VERIFICATION, "token", "expiresAt")
        await self._account_mail(
            session, event, NotificationKind.EMAIL_VERIFICATION, to=event.payload["email"], token=token
        )

    async def sign_up_attempted(self, session: AsyncSession, event: Event) -> None:
        # Anyone may register with anyone's address, from many client addresses: at most one such notice per
        # account within the cooldown, so sign-ups cannot be turned into a mail bomb.
        kind = NotificationKind.SIGN_UP_ATTEMPTED
        user_id = uuid.UUID(str(event.payload["userId"]))
        await repository.lock_user_mails(session, user_id)
        cooldown = self.settings.sign_up_attempt_cooldown_seconds
        if await repository.mailed_since(session, user_id, kind, cooldown):
            logger.info("sign-up attempt on user %s: notice already sent within %d s", user_id, cooldown)
            return
        await self._account_mail(session, event, kind, to=event.payload["email"])

    async def password_reset_requested(self, session: AsyncSession, event: Event) -> None:
        token = SealedToken.from_payload(event.payload, PASSWORD_RESET, "token", "expiresAt")
        await self._account_mail(
            session, event, NotificationKind.PASSWORD_RESET, to=event.payload["email"], token=token
        )

    async def password_changed(self, session: AsyncSession, event: Event) -> None:
        reason = "RESET" if event.payload.get("reason") == "RESET" else "CHANGED"
        await self._account_mail(
            session, event, NotificationKind.PASSWORD_CHANGED, to=event.payload["email"], reason=reason
        )

    async def email_change_requested(self, session: AsyncSession, event: Event) -> None:
        payload = event.payload
        new, previous = payload["email"], payload["previousEmail"]
        token = SealedToken.from_payload(payload, EMAIL_CHANGE, "token", "expiresAt")
        # Two kinds, so two rows of one event and user; the previous address never sees the code.
        await self._account_mail(
            session,
            event,
            NotificationKind.EMAIL_CHANGE_CONFIRMATION,
            to=new,
            token=token,
            new_email=new,
            previous_email=previous,
        )
        await self._account_mail(
            session, event, NotificationKind.EMAIL_CHANGE_REQUESTED, to=previous, new_email=new
        )

    async def email_changed(self, session: AsyncSession, event: Event) -> None:
        payload = event.payload
        await self._account_mail(
            session,
            event,
            NotificationKind.EMAIL_CHANGED,
            to=payload["previousEmail"],
            new_email=payload["email"],
        )

    async def _account_mail(
        self,
        session: AsyncSession,
        event: Event,
        kind: NotificationKind,
        *,
        to: str,
        token: SealedToken | None = None,
        **extra: Any,
    ) -> None:
        payload = event.payload
        user_id = str(payload["userId"])
        recipient = Recipient(user_id=user_id, email=to, name=payload.get("name") or "customer")
        base = self.settings.account_link_base_url
        values: dict[str, Any] = {
            "name": without_mask(recipient.name),
            "email": without_mask(to),
            "account_url": base,
            "code": None,
            "link": None,
            "expires": None,
            **{key: without_mask(value) if isinstance(value, str) else value for key, value in extra.items()},
        }
        if token is not None:
            values |= {
                "code": TOKEN_MASK,
                "link": f"{base}/{TOKEN_PAGES[token.purpose]}?token={TOKEN_MASK}",
                "expires": token.expires_at.astimezone(UTC).strftime("%d %B %Y, %H:%M UTC"),
            }
        recipients = {user_id: recipient}
        await self._write(session, event, kind, [user_id], recipients, lambda _: values, token=token)

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
        recipients = await self.directory.recipients([user_id])
        lines = await self._lines(payload.get("items") or [], currency)
        order_id = str(payload["orderId"])
        common = {
            "order_id": order_id,
            "order_number": order_id[:8].upper(),
            "lines": lines,
            "total": format_money(payload["total"], currency),
            "breakdown": breakdown(payload),
            **extra,
        }
        await self._write(session, event, kind, [user_id], recipients, lambda r: {**common, "name": r.name})

    async def _lines(self, items: Sequence[Mapping[str, Any]], currency: str) -> list[dict[str, Any]]:
        """Order or cart lines as a mail shows them, each product by its catalog name, and a variant by its
        option values too: the event's `variantLabel` (orders freezes it on the order), else (a cart's line)
        the catalog's."""
        products = await self.directory.products_named(str(item["productId"]) for item in items)
        # A cart's lines carry no label: the catalog's (orders' events carry `variantLabel`, maybe null).
        wanted = [item for item in items if "variantLabel" not in item and item.get("variantId")]
        unlabelled = [str(i["variantId"]) for i in wanted if str(i["variantId"]) != str(i["productId"])]
        variants = await self.directory.variants_named(unlabelled) if unlabelled else {}

        def name(item: Mapping[str, Any]) -> str:
            product = products.get(str(item["productId"]))
            named = product.name if product is not None else f"Product {item['productId']}"
            variant = variants.get(str(item.get("variantId")))
            label = item.get("variantLabel") or (variant.label if variant is not None else None)
            return f"{named} — {label}" if label else named

        return [
            {
                "name": name(item),
                "quantity": item["quantity"],
                "unit_price": format_money(item["unitPrice"], currency),
                "line_total": format_money(item["unitPrice"] * item["quantity"], currency),
            }
            for item in items
        ]

    async def cart_abandoned(self, session: AsyncSession, event: Event) -> None:
        payload = event.payload
        kind = NotificationKind.CART_REMINDER
        user_id = uuid.UUID(str(payload["userId"]))
        items = payload.get("lines") or []
        if not items:
            return  # orders tells only carts with lines; an emptied one has nothing to remind of
        # One reminder per user within the cooldown, under the user's mail lock (two carts' events at once).
        await repository.lock_user_mails(session, user_id)
        cooldown = self.settings.cart_reminder_cooldown_seconds
        if await repository.mailed_since(session, user_id, kind, cooldown):
            logger.info("cart of user %s: a reminder was sent within %d s", user_id, cooldown)
            return
        currency = payload["currency"]
        values = {
            "lines": await self._lines(items, currency),
            "subtotal": format_money(payload["subtotal"], currency),
            # The frontend's pages all hang off the account base (the verification links too).
            "cart_url": f"{self.settings.account_link_base_url}/cart",
        }
        recipients = await self.directory.recipients([str(user_id)])
        await self._write(
            session, event, kind, [str(user_id)], recipients, lambda r: {**values, "name": r.name}
        )

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
        variant_id = str(payload.get("variantId") or product_id)
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
        if variant_id == str(product_id):
            product = (await self.directory.products_named([str(product_id)])).get(str(product_id))
            sold, product_name = product is not None and product.active, product.name if product else ""
        else:
            variant = (await self.directory.variants_named([variant_id])).get(variant_id)
            sold, product_name = variant is not None and variant.active, variant.name if variant else ""
        if not sold:
            return  # not for sale (archived, or unknown to the catalog): nothing to tell
        recipients = await self.directory.recipients(due)
        await self._write(
            session,
            event,
            kind,
            due,
            recipients,
            lambda r: {"product_name": product_name, "name": r.name},
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
        token: SealedToken | None = None,
    ) -> int:
        """One PENDING row per user, rendered for them; a user the users service does not know gets a FAILED
        row saying so (nothing silently dropped). A `token` rides sealed in the row until it is sent. A
        deleted account gets nothing: the event came after its `UserDeleted` (a retry, a replayed dead
        letter)."""
        if len(user_ids) == 1:
            # The one recipient's mail lock, which the erasure takes too: this mail and the erasure of its
            # user happen one after the other, never interleaved.
            await repository.lock_user_mails(session, uuid.UUID(user_ids[0]))
        forgotten = await repository.forgotten_among(session, user_ids)
        rows: list[dict[str, Any]] = []
        for user_id in (user_id for user_id in user_ids if user_id not in forgotten):
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
                    "token_purpose": token.purpose if token is not None else None,
                    "sealed_token": token.sealed if token is not None and known else None,
                    "token_expires_at": token.expires_at if token is not None else None,
                }
            )
        inserted = await repository.insert_notifications(session, rows)
        if inserted < len(rows):
            logger.info(
                "event %s: %d of %d %s mails existed already", event.id, len(rows) - inserted, len(rows), kind
            )
        return inserted


def _rate(rate_bp: int) -> str:
    """A rate in basis points as a percentage: 2000 -> 20%, 825 -> 8.25%."""
    whole, part = divmod(int(rate_bp), 100)
    return f"{whole}.{part:02d}".rstrip("0").rstrip(".") + "%"


def breakdown(payload: Mapping[str, Any]) -> dict[str, Any] | None:
    """The price's breakdown as the order mails show it, or None for an event older than orders' pricing
    (no `subtotal`): that mail keeps the lines and the total alone. Missing parts count as none."""
    if payload.get("subtotal") is None:
        return None
    currency = payload["currency"]
    discounts = [
        {
            "label": f"{discount.get('name') or 'Discount'}"
            + (f" ({discount['code']})" if discount.get("code") else ""),
            "amount": format_money(-int(discount.get("amount") or 0), currency),
        }
        for discount in payload.get("discounts") or []
    ]
    method = payload.get("shippingMethod")
    shipping = None
    if isinstance(method, Mapping):
        shipping = {
            "method": method.get("name") or "Shipping",
            "amount": format_money(payload.get("shipping") or 0, currency),
        }
    label = "Incl. tax" if payload.get("pricesIncludeTax") else "Tax"
    taxes = [
        {
            "label": f"{label} ({line.get('taxClass') or 'standard'}, {_rate(line.get('rateBp') or 0)})",
            "amount": format_money(int(line.get("amount") or 0), currency),
        }
        for line in payload.get("taxLines") or []
    ]
    return {
        "subtotal": format_money(int(payload["subtotal"]), currency),
        "discounts": discounts,
        "shipping": shipping,
        "taxes": taxes,
    }


def consumer_spec(events: NotificationEvents) -> ConsumerSpec:
    """What notifications consumes, its handlers bound to the process's `NotificationEvents` (peers, mail)."""
    return ConsumerSpec(
        group=GROUP,
        subscriptions=[
            Subscription(
                "users",
                {
                    "UserRegistered": events.user_registered,
                    "EmailVerificationRequested": events.email_verification_requested,
                    "SignUpAttempted": events.sign_up_attempted,
                    "PasswordResetRequested": events.password_reset_requested,
                    "PasswordChanged": events.password_changed,
                    "EmailChangeRequested": events.email_change_requested,
                    "EmailChanged": events.email_changed,
                },
            ),
            Subscription(
                "orders",
                {
                    "OrderConfirmed": events.order_confirmed,
                    "OrderCancelled": events.order_cancelled,
                    "CartAbandoned": events.cart_abandoned,
                    **events.return_handlers(),
                },
            ),
            Subscription("shipping", events.shipment_handlers()),
            Subscription("products", {"ProductUpdated": events.product_updated}),
            Subscription("inventory", {"StockChanged": events.stock_changed}),
        ],
        processed=processed_events,
        max_attempts=MAX_ATTEMPTS,
    )
