"""The events payments emits, written to its outbox in the transaction of the change they report.

Stream: `<redis_prefix>events:payments` (one stream per producing service, see shared/outbox.py); the
aggregate is the payment. Payments consumes no events: the order saga calls it directly.
"""

from __future__ import annotations

import enum
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from shared.outbox import Event
from subgraphs.payments.models import Payment, Refund, outbox


class PaymentEvent(enum.StrEnum):
    # A charge got the provider's answer: {paymentId, orderId, userId, amount, currency, status (CAPTURED or
    # DECLINED), failureReason}. Analytics counts payments and revenue.
    PAYMENT_PROCESSED = "PaymentProcessed"
    # Money of a capture was given back: {paymentId, orderId, userId, amount (what THIS refund gave back),
    # currency, reason, refundId, refundedTotal (all given back so far), partial (false for the refund that
    # gave back what was left of the capture: `refundPayment`)}.
    PAYMENT_REFUNDED = "PaymentRefunded"


EMITTED: tuple[PaymentEvent, ...] = tuple(PaymentEvent)


def _common(payment: Payment) -> dict[str, Any]:
    return {
        "paymentId": str(payment.id),
        "orderId": str(payment.order_id),
        "userId": str(payment.user_id),
        "amount": payment.amount,
        "currency": payment.currency,
    }


async def payment_processed(session: AsyncSession, payment: Payment) -> None:
    await outbox.write(session, processed(payment, payment.status, payment.failure_reason))


def processed(payment: Payment, status: str, failure_reason: str | None) -> Event:
    """PaymentProcessed of `payment` answered `status` (made, not written: the statement that records the
    answer writes it)."""
    payload = {**_common(payment), "status": status, "failureReason": failure_reason}
    return outbox.event(PaymentEvent.PAYMENT_PROCESSED, payload, aggregate_id=payment.id)


async def payment_refunded(session: AsyncSession, payment: Payment, refund: Refund) -> None:
    payload = {
        **_common(payment),
        "amount": refund.amount,
        "reason": refund.reason,
        "refundId": str(refund.id),
        "refundedTotal": payment.refunded_amount,
        "partial": refund.partial,
    }
    await outbox.emit(session, PaymentEvent.PAYMENT_REFUNDED, payload, aggregate_id=payment.id)
