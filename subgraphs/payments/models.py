"""The payments table (one row per charge key), its refunds (one row per refund key) and the service's outbox.

A row is either a charge (every charge column set) or a VOIDED tombstone: `refundPayment` of a key that was
never charged stores the key alone, with order, user, amount, currency and method NULL, so that a charge with
that key arriving later charges nothing. Such a late charge fills the tombstone's order, user, amount and
method in (the row stays VOIDED); a tombstone no charge ever claimed stays bare (GraphQL shows its order,
amount and method as sentinels: see schema.py).
"""

from __future__ import annotations

import enum
import uuid
from datetime import datetime

from sqlalchemy import BigInteger, CheckConstraint, DateTime, ForeignKey, Index, String, Uuid, func
from sqlalchemy.orm import Mapped, mapped_column

from shared.db import ModelBase, new_metadata
from shared.outbox import Outbox

KEY_MAX_LENGTH = 200
# A full refund's key is `full:` + the charge key.
REFUND_KEY_MAX_LENGTH = KEY_MAX_LENGTH + 5
METHOD_MAX_LENGTH = 100
REASON_MAX_LENGTH = 500
REFERENCE_MAX_LENGTH = 200
# The largest integer a JavaScript client reads exactly (Number.MAX_SAFE_INTEGER).
MAX_AMOUNT = 2**53 - 1


class PaymentStatus(enum.StrEnum):
    PENDING = "PENDING"  # inserted, provider not answered yet: only ever seen inside the charging transaction
    CAPTURED = "CAPTURED"
    DECLINED = "DECLINED"
    FAILED = "FAILED"  # reserved for providers that report a definitive technical failure
    PARTIALLY_REFUNDED = "PARTIALLY_REFUNDED"  # part of the capture given back (returns), the rest kept
    REFUNDED = "REFUNDED"  # all of the capture given back (in one refund or several)
    VOIDED = "VOIDED"  # refunded before any charge: a tombstone, nothing was ever taken


class Base(ModelBase):
    __abstract__ = True
    metadata = new_metadata()


outbox = Outbox(Base.metadata, "payments")

_STATUSES = ", ".join(f"'{status}'" for status in PaymentStatus)


class Payment(Base):
    __tablename__ = "payments"
    __table_args__ = (
        CheckConstraint(f"status IN ({_STATUSES})", name="known_status"),
        CheckConstraint(f"amount BETWEEN 1 AND {MAX_AMOUNT}", name="amount_in_range"),
        # Only a tombstone may lack the charge's details.
        CheckConstraint(
            "status = 'VOIDED' OR (order_id IS NOT NULL AND user_id IS NOT NULL AND amount IS NOT NULL "
            "AND currency IS NOT NULL AND method IS NOT NULL)",
            name="charge_details",
        ),
        CheckConstraint("(status = 'REFUNDED') = (refunded_at IS NOT NULL)", name="refunded_at_iff_refunded"),
        CheckConstraint(
            "refunded_amount >= 0 AND (amount IS NULL OR refunded_amount <= amount)",
            name="refunded_within_amount",
        ),
        # `Order.payment`: the payments of a batch of orders.
        Index("ix_payments_order_id_created_at", "order_id", "created_at"),
    )

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True, server_default=func.gen_random_uuid())
    # The caller's idempotency key: one row per key, whatever happens; a retry finds the first result here.
    key: Mapped[str] = mapped_column(String(KEY_MAX_LENGTH), unique=True)
    order_id: Mapped[uuid.UUID | None] = mapped_column(Uuid)
    user_id: Mapped[uuid.UUID | None] = mapped_column(Uuid)
    # Minor units of `currency`.
    amount: Mapped[int | None] = mapped_column(BigInteger)
    currency: Mapped[str | None] = mapped_column(String(3))
    method: Mapped[str | None] = mapped_column(String(METHOD_MAX_LENGTH))
    status: Mapped[str] = mapped_column(String(20))
    # Why it was declined (the provider's reason) or voided (the refund's reason).
    failure_reason: Mapped[str | None] = mapped_column(String(REASON_MAX_LENGTH))
    provider_reference: Mapped[str | None] = mapped_column(String(REFERENCE_MAX_LENGTH))
    refund_reference: Mapped[str | None] = mapped_column(String(REFERENCE_MAX_LENGTH))
    refund_reason: Mapped[str | None] = mapped_column(String(REASON_MAX_LENGTH))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    refunded_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    # Minor units given back so far, by every refund of `refunds` (partial ones and the final full one).
    refunded_amount: Mapped[int] = mapped_column(BigInteger, server_default="0")

    @property
    def refundable(self) -> int:
        """What may still be given back: captured minus refunded (0 unless money was captured)."""
        if (
            self.status not in (PaymentStatus.CAPTURED, PaymentStatus.PARTIALLY_REFUNDED)
            or self.amount is None
        ):
            return 0
        return self.amount - self.refunded_amount

    @property
    def is_bare_tombstone(self) -> bool:
        """A VOIDED key no charge claimed: no order, user, amount or method known."""
        return self.order_id is None


class Refund(Base):
    """Money given back from one payment: a partial refund (one per key: a return's refund) or the rest of the
    capture given back by `refundPayment` (keyed `full:<charge key>`). The payment's `refunded_amount` is the
    sum of its refunds' amounts."""

    __tablename__ = "refunds"
    __table_args__ = (
        CheckConstraint(f"amount BETWEEN 1 AND {MAX_AMOUNT}", name="amount_in_range"),
        Index("ix_refunds_payment_id_created_at", "payment_id", "created_at"),
    )

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True, server_default=func.gen_random_uuid())
    # The caller's idempotency key: one refund per key; a repeat answers this row.
    key: Mapped[str] = mapped_column(String(REFUND_KEY_MAX_LENGTH), unique=True)
    payment_id: Mapped[uuid.UUID] = mapped_column(Uuid, ForeignKey("payments.id"))
    order_id: Mapped[uuid.UUID] = mapped_column(Uuid)
    amount: Mapped[int] = mapped_column(BigInteger)
    currency: Mapped[str] = mapped_column(String(3))
    reason: Mapped[str] = mapped_column(String(REASON_MAX_LENGTH))
    partial: Mapped[bool] = mapped_column()
    provider_reference: Mapped[str] = mapped_column(String(REFERENCE_MAX_LENGTH))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
