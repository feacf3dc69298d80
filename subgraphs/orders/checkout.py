"""Checkout: a cart becomes an order, priced and frozen, and the order saga runs it.

Signed-in customers only (a guest merges their cart at login first: an order needs a user to own it, and
the e2e of issue 15 is a customer's). Checkout is at the current prices: the cart told of every change
(PRICE_CHANGED notices) when it was last shown, as Saleor and Vendure do.

Each refusal is a coded error that changes nothing (no order, the cart as it was, no use counted):
CART_EMPTY, LINE_UNAVAILABLE (with `lineId`), SHIPPING_ADDRESS_REQUIRED, SHIPPING_METHOD_REQUIRED,
SHIPPING_METHOD_UNAVAILABLE (shipping's `quoteReason`), the VOUCHER_* reasons of promotions.py, and
CONFLICT CHECKOUT_IN_PROGRESS (another key's checkout of this cart runs), IDEMPOTENCY_KEY_REUSED (the key
named another cart), VOUCHER_USED_UP / VOUCHER_ALREADY_USED (the last use went meanwhile).

The order is created like placeOrder's (same key → same order) in one transaction that also reserves every
promotion use it carries (promotion_repository.reserve_use: used up meanwhile → no order) and locks the cart
to it. The saga then charges the order's total; on CONFIRMED the cart is COMPLETED, on CANCELLED/FAILED its
compensation releases the uses and unlocks the cart (saga.py).
"""

from __future__ import annotations

import hashlib
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import orjson
from sqlalchemy.ext.asyncio import AsyncSession

from shared.context import Context
from shared.errors import BadUserInput, Conflict, NotFound
from shared.ids import clean_key, parse_uuid
from shared.peers import PeerError
from subgraphs.orders import cart_repository, promotion_repository, taxes
from subgraphs.orders.cart_view import CartView, PriceInputs, cart_price, price_lines, pricing_lines
from subgraphs.orders.models import Cart, CartStatus, Order, OrderStatus
from subgraphs.orders.order_input import clean_payment_method
from subgraphs.orders.order_price import frozen_line, frozen_price, variant_columns
from subgraphs.orders.peers import ItemRef, ShippingQuote
from subgraphs.orders.promotion_repository import UseOutcome
from subgraphs.orders.promotions import CartView as Evaluation
from subgraphs.orders.promotions import VoucherRefused, applicable_discounts
from subgraphs.orders.service import (
    IDEMPOTENCY_KEY_MAX_LENGTH,
    MAX_TOTAL,
    OrderService,
    ServiceUnavailable,
)

# A cart changed between reading it (catalog, quote: no lock held while peers answer) and locking it is
# read again this many times before the customer hears CART_CHANGED.
READ_ATTEMPTS = 3


@dataclass(frozen=True, slots=True)
class Snapshot:
    """What the peers said of the cart as it was at `updated_at`."""

    updated_at: datetime
    view: CartView
    quote: ShippingQuote | None


def request_hash(cart_id: uuid.UUID, payment_method: str) -> str:
    return hashlib.sha256(orjson.dumps(["checkout", str(cart_id), payment_method])).hexdigest()


def _refused(reason: str, message: str, **extra: Any) -> BadUserInput:
    return BadUserInput(message, field=extra.pop("field", "cartId"), reason=reason, **extra)


class CheckoutService:
    def __init__(self, context: Context) -> None:
        self.context = context
        self.orders = OrderService(context)
        self.saga = self.orders.saga
        self.settings = self.orders.settings

    async def complete(self, raw_cart_id: object, payment_method: object, idempotency_key: object) -> Order:
        user_id = await self.orders.buyer()
        cart_id = parse_uuid(raw_cart_id, "cartId", "a cart id")
        key = clean_key(idempotency_key, field="idempotencyKey", max_length=IDEMPOTENCY_KEY_MAX_LENGTH)
        method = clean_payment_method(payment_method)
        fingerprint = request_hash(cart_id, method)
        return await self.orders.once(
            user_id, key, fingerprint, lambda: self._create(user_id, cart_id, key, fingerprint, method)
        )

    # --- creating the order ---

    async def _create(
        self, user_id: uuid.UUID, cart_id: uuid.UUID, key: str, fingerprint: str, method: str
    ) -> Order | None:
        for _ in range(READ_ATTEMPTS):
            snapshot = await self._read(user_id, cart_id)
            async with self.saga.sessionmaker() as session, session.begin():
                cart = await self._own_cart(session, user_id, cart_id, lock=True)
                if cart.updated_at != snapshot.updated_at:
                    continue  # changed while the peers answered: read it again
                return await self._insert(session, cart, snapshot, user_id, key, fingerprint, method)
        raise Conflict("The cart keeps changing; try again.", field="cartId", reason="CART_CHANGED")

    async def _own_cart(
        self, session: AsyncSession, user_id: uuid.UUID, cart_id: uuid.UUID, *, lock: bool
    ) -> Cart:
        cart = await cart_repository.get(session, cart_id, for_update=lock)
        if cart is None or cart.user_id != user_id or cart.status != CartStatus.ACTIVE.value:
            raise NotFound("No such cart.", field="cartId")
        if cart.checkout_order_id is not None:
            raise Conflict(
                "This cart is being checked out.",
                field="cartId",
                reason="CHECKOUT_IN_PROGRESS",
                orderId=str(cart.checkout_order_id),
            )
        return cart

    async def _read(self, user_id: uuid.UUID, cart_id: uuid.UUID) -> Snapshot:
        """The cart, the catalog's prices and shipping's quote, with no lock held while the peers answer."""
        async with self.saga.sessionmaker() as session:
            cart = await self._own_cart(session, user_id, cart_id, lock=False)
            lines = (await cart_repository.lines_of(session, [cart.id]))[cart.id]
        if not lines:
            raise _refused("CART_EMPTY", "The cart is empty.")
        refs = [ItemRef(variant_id=str(line.variant_id)) for line in lines]
        try:
            catalog = await self.saga.peers.catalog(refs)
        except PeerError as exc:
            raise ServiceUnavailable("The catalog cannot be reached; try again.") from exc
        view = price_lines(cart, lines, {ref.variant_id: catalog.resolve(ref).item for ref in refs})
        for priced in view.lines:
            if not priced.available:
                raise _refused(
                    "LINE_UNAVAILABLE",
                    "A product of the cart can no longer be bought; remove it.",
                    field="lineId",
                    lineId=str(priced.line.id),
                    productId=str(priced.line.product_id),
                    variantId=str(priced.line.variant_id),
                )
        country = view.shipping_country
        if country is None:
            raise _refused("SHIPPING_ADDRESS_REQUIRED", "Set a shipping address first.")
        method_id = cart.shipping_method_id
        if method_id is None:
            raise _refused("SHIPPING_METHOD_REQUIRED", "Choose a shipping method first.")
        try:
            quote = await self.saga.peers.shipping_quote(
                method_id,
                country=country,
                subtotal_amount=view.price.subtotal,
                currency=view.currency,
                weight_grams=view.weight_grams,
            )
        except PeerError as exc:
            raise ServiceUnavailable("Shipping cannot be reached; try again.") from exc
        if quote.price_amount is None:
            raise _refused(
                "SHIPPING_METHOD_UNAVAILABLE",
                "The chosen shipping method is not available for this cart; choose another.",
                field="methodId",
                quoteReason=quote.reason,
            )
        return Snapshot(cart.updated_at, view, quote)

    async def _insert(
        self,
        session: AsyncSession,
        cart: Cart,
        snapshot: Snapshot,
        user_id: uuid.UUID,
        key: str,
        fingerprint: str,
        method: str,
    ) -> Order | None:
        view, quote = snapshot.view, snapshot.quote
        assert quote is not None and quote.price_amount is not None
        lines = pricing_lines(view.lines)
        evaluation = Evaluation(
            lines=lines,
            currency=view.currency,
            now=datetime.now(UTC),
            user_id=user_id,
            shipping_amount=quote.price_amount,
        )
        discounts = await applicable_discounts(session, evaluation, cart.voucher_code)
        inputs = PriceInputs(
            country=view.shipping_country,
            rates=await taxes.tax_table(session, view.shipping_country),
            prices_include_tax=self.settings.prices_include_tax,
            shipping_amount=quote.price_amount,
            discounts=discounts,
        )
        breakdown = cart_price(view.lines, currency=view.currency, inputs=inputs)
        if breakdown.total > MAX_TOTAL:
            raise _refused("TOTAL_TOO_LARGE", f"An order's total is at most {MAX_TOTAL} minor units.")
        by_line = {line.line_id: line for line in breakdown.lines}
        items = []
        for index, priced in enumerate(line for line in view.lines if line.available):
            assert priced.product is not None
            items.append(
                {
                    "line": index + 1,
                    **variant_columns(priced.product),
                    "product_name": priced.product.name,
                    "quantity": priced.line.quantity,
                    "unit_price_amount": priced.unit_amount,
                    "currency": view.currency,
                    **frozen_line(by_line[str(priced.line.id)]),
                }
            )
        values = {
            "user_id": user_id,
            "idempotency_key": key,
            "request_hash": fingerprint,
            "currency": view.currency,
            "payment_method": method,
            "status": OrderStatus.PENDING,
            "cart_id": cart.id,
            "shipping_method": {"id": quote.method_id, "name": quote.name},
            "shipping_address": cart.shipping_address,
            "billing_address": cart.billing_address or cart.shipping_address,
            **frozen_price(breakdown),
        }
        order = await self.orders.insert_pending(session, values, items)
        if order is None:
            return None
        for discount in breakdown.discounts:
            outcome = await promotion_repository.reserve_use(
                session, uuid.UUID(discount.promotion_id), order.id, user_id
            )
            if outcome is not UseOutcome.RESERVED:
                # Raised inside the transaction: the order, its lines and any use reserved roll back.
                raise _use_refused(outcome)
        cart.checkout_order_id = order.id
        await session.flush()
        return order


def _use_refused(outcome: UseOutcome) -> VoucherRefused:
    if outcome is UseOutcome.USED_UP:
        return VoucherRefused("VOUCHER_USED_UP", "This voucher has been used up.")
    if outcome is UseOutcome.CUSTOMER_LIMIT:
        return VoucherRefused("VOUCHER_ALREADY_USED", "You have already used this voucher.")
    return VoucherRefused("VOUCHER_UNKNOWN", "No such voucher.")
