"""The payments domain: charges and refunds through the provider, idempotent per key; who sees a payment.

Every action runs in the request's transaction (`context.session`): this module flushes, never commits. A
charge keeps its transaction open across the provider call on purpose: its uncommitted row holds the key, so
any other call with that key (a retried charge, the saga's refund after it gave up waiting) waits for the
answer instead of acting beside it.
"""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, TypeVar

from sqlalchemy.ext.asyncio import AsyncSession

from shared import ids
from shared.auth import Principal, Role
from shared.context import Context
from shared.errors import BadUserInput, Conflict, Forbidden, MyShopError, NotFound
from shared.ids import parse_uuid
from shared.money import normalize_currency
from subgraphs.payments import events, repository
from subgraphs.payments.models import (
    KEY_MAX_LENGTH,
    MAX_AMOUNT,
    METHOD_MAX_LENGTH,
    REASON_MAX_LENGTH,
    Payment,
    PaymentStatus,
    Refund,
)
from subgraphs.payments.providers import ProviderUnavailable
from subgraphs.payments.state import PaymentsState

# Who may read any payment; a customer reads their own.
_STAFF_ROLES = (Role.ADMIN, Role.PARTNER, Role.SERVICE)

T = TypeVar("T")


class PaymentProviderUnavailable(MyShopError):
    """The provider failed transiently (or too slowly): nothing was kept, retry with the same key."""

    code = "PAYMENT_PROVIDER_UNAVAILABLE"

    def __init__(self, message: str, **extra: Any) -> None:
        super().__init__(message, retryable=True, **extra)


class RefundExceedsPayment(MyShopError):
    """A partial refund asked for more than the capture minus what was already given back."""

    code = "REFUND_EXCEEDS_PAYMENT"


@dataclass(frozen=True, slots=True)
class PartialRefundRequest:
    key: str
    order_id: uuid.UUID
    amount: int
    currency: str
    reason: str


@dataclass(frozen=True, slots=True)
class ChargeRequest:
    key: str
    order_id: uuid.UUID
    user_id: uuid.UUID
    amount: int
    currency: str
    method: str


# --- input rules ---------------------------------------------------------------------------------------


def clean_key(value: object, *, field: str = "key") -> str:
    return ids.clean_key(value, field=field, max_length=KEY_MAX_LENGTH)


def clean_charge(
    *, key: object, order_id: object, user_id: object, amount: object, currency: object, method: object
) -> ChargeRequest:
    if type(amount) is not int or not 1 <= amount <= MAX_AMOUNT:
        raise BadUserInput(
            f"The amount is a whole number of minor units from 1 to {MAX_AMOUNT}.",
            field="input.amount.amount",
        )
    try:
        code = normalize_currency(currency)  # type: ignore[arg-type]
    except (TypeError, ValueError) as exc:
        raise BadUserInput("Not an ISO 4217 currency code.", field="input.amount.currency") from exc
    method_text = method.strip() if isinstance(method, str) else ""
    if not 1 <= len(method_text) <= METHOD_MAX_LENGTH:
        raise BadUserInput(
            f"The payment method is 1 to {METHOD_MAX_LENGTH} characters.", field="input.method"
        )
    return ChargeRequest(
        key=clean_key(key, field="input.key"),
        order_id=parse_uuid(order_id, "input.orderId", "an order id"),
        user_id=parse_uuid(user_id, "input.userId", "a user id"),
        amount=amount,
        currency=code,
        method=method_text,
    )


def clean_reason(value: object, *, field: str = "reason") -> str:
    text = value.strip() if isinstance(value, str) else ""
    if not 1 <= len(text) <= REASON_MAX_LENGTH:
        raise BadUserInput(f"The reason is 1 to {REASON_MAX_LENGTH} characters.", field=field)
    return text


def clean_partial_refund(
    *, key: object, order_id: object, amount: object, currency: object, reason: object
) -> PartialRefundRequest:
    if type(amount) is not int or not 1 <= amount <= MAX_AMOUNT:
        raise BadUserInput(
            f"The amount is a whole number of minor units from 1 to {MAX_AMOUNT}.", field="input.amount"
        )
    try:
        code = normalize_currency(currency)  # type: ignore[arg-type]
    except (TypeError, ValueError) as exc:
        raise BadUserInput("Not an ISO 4217 currency code.", field="input.currency") from exc
    return PartialRefundRequest(
        key=clean_key(key, field="input.key"),
        order_id=parse_uuid(order_id, "input.orderId", "an order id"),
        amount=amount,
        currency=code,
        reason=clean_reason(reason, field="input.reason"),
    )


def _same_charge(payment: Payment, request: ChargeRequest) -> bool:
    return (payment.order_id, payment.user_id, payment.amount, payment.currency) == (
        request.order_id,
        request.user_id,
        request.amount,
        request.currency,
    )


def _now() -> datetime:
    # Python's clock, not now(): a transaction that waited on a key must not date its change before the wait.
    return datetime.now(UTC)


class PaymentService:
    def __init__(self, context: Context) -> None:
        self.context = context
        self.state: PaymentsState = context.runtime.state

    @property
    def session(self) -> AsyncSession:
        return self.context.session

    # --- charging (internal: the order saga with a SERVICE token) ---

    async def charge(self, request: ChargeRequest) -> Payment:
        """Charge once per key: a known key answers with its stored payment and never reaches the provider."""
        metrics = self.state.metrics
        now = _now()
        pending = await repository.insert_if_new_key(
            self.session,
            {
                "key": request.key,
                "order_id": request.order_id,
                "user_id": request.user_id,
                "amount": request.amount,
                "currency": request.currency,
                "method": request.method,
                "status": PaymentStatus.PENDING,
                "created_at": now,
                "updated_at": now,
            },
        )
        if pending is None:
            return await self._replay_charge(request)
        try:
            result = await self._call_provider(
                "charge",
                lambda: self.state.provider.charge(
                    key=request.key, amount=request.amount, currency=request.currency, method=request.method
                ),
            )
        except PaymentProviderUnavailable:
            metrics.charge("provider_unavailable")
            raise
        if result.approved:
            values = {"status": PaymentStatus.CAPTURED, "provider_reference": result.reference}
        else:
            values = {"status": PaymentStatus.DECLINED, "failure_reason": result.decline_reason or "declined"}
        # The answer and its PaymentProcessed in one statement.
        processed = events.processed(pending, values["status"], values.get("failure_reason"))
        payment = await repository.settle(
            self.session, pending.id, {**values, "updated_at": _now()}, [processed]
        )
        assert payment is not None  # our own uncommitted row
        metrics.charge("captured" if result.approved else "declined")
        return payment

    async def _replay_charge(self, request: ChargeRequest) -> Payment:
        stored = await repository.get_by_key(self.session, request.key)
        if stored is None:
            # The key's row existed a statement ago and rows are never deleted: not expected, safe to retry.
            raise PaymentProviderUnavailable("The payment with this key is not readable yet; retry.")
        if stored.is_bare_tombstone:
            # Refunded before it was charged: the saga gave up on it. Record what it was, charge nothing.
            claimed = await repository.update(
                self.session,
                stored.id,
                {
                    "order_id": request.order_id,
                    "user_id": request.user_id,
                    "amount": request.amount,
                    "currency": request.currency,
                    "method": request.method,
                    "updated_at": _now(),
                },
                only_if=Payment.order_id.is_(None),
            )
            # None: another late charge claimed it first (and we waited for it); read what it wrote.
            stored = claimed or await repository.get_by_key(self.session, request.key) or stored
        if not _same_charge(stored, request):
            raise Conflict("This key belongs to a different charge.", field="input.key")
        self.state.metrics.charge("replayed")
        return stored

    # --- refunding (internal) ---

    async def refund(self, raw_key: object, raw_reason: object) -> Payment:
        """Give back what the charge of `key` captured, once. A key never charged is voided for good."""
        key = clean_key(raw_key)
        reason = clean_reason(raw_reason)
        metrics = self.state.metrics
        now = _now()
        # A charge in flight with this key holds its uncommitted row: this waits for its answer, then does
        # nothing and the row is refunded below. No row at all: the tombstone makes a late charge a no-op.
        tombstone = await repository.insert_if_new_key(
            self.session,
            {
                "key": key,
                "status": PaymentStatus.VOIDED,
                "failure_reason": reason,
                "refund_reason": reason,
                "created_at": now,
                "updated_at": now,
            },
        )
        if tombstone is not None:
            metrics.refund("voided")
            return tombstone
        payment = await repository.get_by_key(self.session, key, for_update=True)
        if payment is None or payment.status == PaymentStatus.PENDING:
            # Neither is expected (a PENDING row never commits); the saga retries refunds until they succeed.
            raise PaymentProviderUnavailable("The charge of this key has no outcome yet; retry.")
        if payment.refundable == 0:
            # Declined, voided, or already given back in full (by this call before, or by partial refunds).
            metrics.refund("nothing_to_refund")
            return payment
        assert payment.provider_reference is not None and payment.currency is not None
        # What partial refunds (returns) gave back already stays given: this gives back the rest.
        reference, amount, currency = payment.provider_reference, payment.refundable, payment.currency
        try:
            result = await self._call_provider(
                "refund",
                lambda: self.state.provider.refund(
                    key=key, reference=reference, amount=amount, currency=currency
                ),
            )
        except PaymentProviderUnavailable:
            metrics.refund("provider_unavailable")
            raise
        refunded, _ = await self._record_refund(
            payment,
            key=f"full:{key}",
            amount=amount,
            reason=reason,
            partial=False,
            provider_reference=result.reference,
        )
        metrics.refund("refunded")
        return refunded

    async def refund_partially(self, request: PartialRefundRequest) -> Refund:
        """Give back `amount` of the order's capture, once per key (a return's refund).

        The order's charge row is locked first: every refund of one payment runs one at a time, so a repeat of
        a key (concurrent or late) finds the first one's refund and answers it, and two refunds can never give
        back more than was captured. A key already used with another order, amount or currency is CONFLICT.
        """
        metrics = self.state.metrics
        payment = await repository.charge_of_order_for_update(self.session, request.order_id)
        existing = await repository.get_refund_by_key(self.session, request.key)
        if existing is not None:
            return self._replay_refund(existing, request)
        if payment is None or payment.is_bare_tombstone:
            raise NotFound("This order has no payment.", field="input.orderId")
        if payment.currency != request.currency:
            raise BadUserInput("The order was paid in another currency.", field="input.currency")
        if request.amount > payment.refundable:
            metrics.refund("exceeds_payment")
            raise RefundExceedsPayment(
                "The refund exceeds what is left of the payment.",
                field="input.amount",
                refundable=payment.refundable,
            )
        assert payment.provider_reference is not None
        reference = payment.provider_reference
        try:
            result = await self._call_provider(
                "refund_partially",
                lambda: self.state.provider.refund_partially(
                    key=request.key, reference=reference, amount=request.amount, currency=request.currency
                ),
            )
        except PaymentProviderUnavailable:
            metrics.refund("provider_unavailable")
            raise
        _, refund = await self._record_refund(
            payment,
            key=request.key,
            amount=request.amount,
            reason=request.reason,
            partial=True,
            provider_reference=result.reference,
        )
        metrics.refund("partially_refunded")
        return refund

    def _replay_refund(self, refund: Refund, request: PartialRefundRequest) -> Refund:
        if (refund.order_id, refund.amount, refund.currency) != (
            request.order_id,
            request.amount,
            request.currency,
        ):
            raise Conflict("This key belongs to a different refund.", field="input.key")
        self.state.metrics.refund("replayed")
        return refund

    async def _record_refund(
        self, payment: Payment, *, key: str, amount: int, reason: str, partial: bool, provider_reference: str
    ) -> tuple[Payment, Refund]:
        """Store a refund the provider made and add it to its (locked) payment; PaymentRefunded."""
        assert payment.order_id is not None and payment.currency is not None and payment.amount is not None
        now = _now()
        refund = await repository.insert_refund_if_new_key(
            self.session,
            {
                "key": key,
                "payment_id": payment.id,
                "order_id": payment.order_id,
                "amount": amount,
                "currency": payment.currency,
                "reason": reason,
                "partial": partial,
                "provider_reference": provider_reference,
                "created_at": now,
            },
        )
        if refund is None:
            # The payment row is locked and the key was free a moment ago: only another payment's refund with
            # this key could have taken it. Nothing was kept; the caller's key is wrong.
            raise Conflict("This key belongs to a different refund.", field="input.key")
        refunded_amount = payment.refunded_amount + amount
        values: dict[str, Any] = {"refunded_amount": refunded_amount, "updated_at": now}
        if refunded_amount == payment.amount:
            values |= {
                "status": PaymentStatus.REFUNDED,
                "refunded_at": now,
                "refund_reference": provider_reference,
                "refund_reason": reason,
            }
        else:
            values["status"] = PaymentStatus.PARTIALLY_REFUNDED
        updated = await repository.update(self.session, payment.id, values)
        assert updated is not None  # locked by the caller
        await events.payment_refunded(self.session, updated, refund)
        return updated, refund

    async def _call_provider(self, operation: str, call: Callable[[], Awaitable[T]]) -> T:
        started = time.perf_counter()
        try:
            result = await asyncio.wait_for(call(), self.state.settings.provider_timeout_seconds)
        except (ProviderUnavailable, TimeoutError) as exc:
            self.state.metrics.provider_call(operation, "unavailable", time.perf_counter() - started)
            raise PaymentProviderUnavailable(
                "The payment provider is unavailable; retry with the same key."
            ) from exc
        self.state.metrics.provider_call(operation, "ok", time.perf_counter() - started)
        return result

    # --- reading: the owner, ADMIN, PARTNER and SERVICE ---

    async def get_payment(self, raw_id: object) -> Payment | None:
        """A payment by id; None when there is none (a bare tombstone is no payment of anyone)."""
        principal = await self.context.require_principal()
        payment = await self.context.loaders.payment.load(str(raw_id))
        if payment is None or payment.is_bare_tombstone:
            return None
        _check_visible(principal, payment)
        return payment

    async def refunds_of(self, payment: Payment) -> list[Refund]:
        """The refunds of a payment already checked visible, oldest first."""
        return await self.context.loaders.refunds_of_payment.load(payment.id)

    async def payment_of_order(self, raw_order_id: object) -> Payment | None:
        """The charge of an order; None when it has none."""
        principal = await self.context.require_principal()
        payment = await self.context.loaders.payment_of_order.load(str(raw_order_id))
        if payment is None:
            return None
        _check_visible(principal, payment)
        return payment

    async def payments_of_orders(self, raw_order_ids: list[object]) -> list[Payment | MyShopError | None]:
        """`payment_of_order` for many orders in one read: for each, its charge, None, or the Forbidden that
        `payment_of_order` would raise for it."""
        principal = await self.context.require_principal()
        payments = await self.context.loaders.payment_of_order.load_many([str(raw) for raw in raw_order_ids])
        answers: list[Payment | MyShopError | None] = []
        for payment in payments:
            try:
                if payment is not None:
                    _check_visible(principal, payment)
                answers.append(payment)
            except Forbidden as refused:
                answers.append(refused)
        return answers


def _check_visible(principal: Principal, payment: Payment) -> None:
    if principal.is_user(payment.user_id) or principal.has_any_role(*_STAFF_ROLES):
        return
    raise Forbidden("Only the customer who paid, or staff, can see this payment.")
