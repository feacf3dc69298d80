"""The payments subgraph's GraphQL schema: `Payment`, `Order.payment`, and the saga's internal operations.

`chargePayment`, `refundPayment` and `refundPaymentPartially` are internal: @inaccessible (the router never
exposes them) and refused without a SERVICE token when called on this subgraph directly. The Mutation type
itself is NOT @inaccessible: that directive on a type spreads to the supergraph's one Mutation, hiding every
subgraph's mutations (and the router cannot build its API schema then). ONLY_INACCESSIBLE_CHILDREN is checked
on the composed Mutation, which has public fields from users, products, inventory and orders.
"""

from __future__ import annotations

import enum
from datetime import datetime
from typing import Any

import strawberry
from strawberry.federation.schema_directives import Inaccessible
from strawberry.types import Info

from shared.auth.permissions import IsService, guarded
from shared.errors import MyShopError
from shared.graphql import build_schema
from shared.graphql_types import Money, MoneyInput
from subgraphs.payments import models
from subgraphs.payments.privacy import PersonalDataExport
from subgraphs.payments.service import PaymentService, clean_charge, clean_partial_refund


@strawberry.enum(description="Where a payment stands.")
class PaymentStatus(enum.Enum):
    PENDING = "PENDING"
    CAPTURED = "CAPTURED"
    DECLINED = "DECLINED"
    FAILED = "FAILED"
    PARTIALLY_REFUNDED = strawberry.enum_value(
        "PARTIALLY_REFUNDED", description="Part of the capture was given back (returns); the rest is kept."
    )
    REFUNDED = strawberry.enum_value("REFUNDED", description="All of the capture was given back.")
    VOIDED = "VOIDED"


# An Order whose payment was not read with its reference (`Payment.order`): `payment` reads it when asked.
UNREAD: Any = object()


@strawberry.federation.type(keys=["id"], description="An order, as payments knows it: its charge.")
class Order:
    id: strawberry.ID
    # Its payment as the caller may see it, read with every reference of an `_entities` at once: the Payment,
    # None, or the error `payment` answers (not signed in, not theirs); UNREAD when not read yet.
    charge: strawberry.Private[Any] = UNREAD

    @strawberry.field(description="The order's charge; null when none. The customer who paid, or staff.")
    def payment(self, info: Info) -> Payment | None:
        # Synchronous when the charge came with the reference: 20 orders' payments are then no 20
        # awaitables for graphql-core to complete one by one. Else an awaitable, which graphql-core awaits.
        if self.charge is UNREAD:
            return self._read_payment(info)  # type: ignore[return-value]
        if isinstance(self.charge, Exception):
            raise self.charge
        return self.charge  # type: ignore[no-any-return]

    async def _read_payment(self, info: Info) -> Payment | None:
        return _optional(await PaymentService(info.context).payment_of_order(self.id))

    @classmethod
    async def resolve_reference(cls, info: Info, id: strawberry.ID) -> Order:
        return cls(id=id)

    @classmethod
    async def resolve_references(cls, info: Info, representations: list[dict[str, Any]]) -> list[Order]:
        """Every reference of an `_entities` at once (shared.graphql `Schema.entities_resolver`), each with
        its payment read in one batch: the router asks payments for orders only to read `payment`."""
        ids = [strawberry.ID(str(representation["id"])) for representation in representations]
        try:
            charges = await PaymentService(info.context).payments_of_orders(ids)
        except MyShopError as refused:  # not signed in: each `payment` answers it, as it did alone
            return [cls(id=id, charge=refused) for id in ids]
        return [
            cls(id=id, charge=charge if isinstance(charge, Exception) else _optional(charge))
            for id, charge in zip(ids, charges, strict=True)
        ]


# A payment VOIDED before any charge (the refund of a key never charged) has no order, amount or method. The
# contract makes them non-null, and an error would roll the refund back (a request with an error commits
# nothing), so they read as these sentinels: the nil order id, 0 of ISO 4217's "no currency" XXX, and "".
NO_ORDER_ID = strawberry.ID("00000000-0000-0000-0000-000000000000")
NO_CURRENCY = "XXX"


@strawberry.federation.type(
    keys=["id"], description="A charge of an order. Visible to the customer who paid and to staff."
)
class Payment:
    id: strawberry.ID
    row: strawberry.Private[models.Payment]

    @strawberry.field(description="The order charged (the nil id for a payment voided before any charge).")
    def order(self) -> Order:
        if self.row.order_id is None:
            return Order(id=NO_ORDER_ID)
        return Order(id=strawberry.ID(str(self.row.order_id)))

    @strawberry.field(description="What was charged (0 XXX for a payment voided before any charge).")
    def amount(self) -> Money:
        if self.row.amount is None or self.row.currency is None:
            return Money(amount=0, currency=NO_CURRENCY)
        return Money(amount=self.row.amount, currency=self.row.currency)

    @strawberry.field
    def status(self) -> PaymentStatus:
        return PaymentStatus(self.row.status)

    @strawberry.field(
        description="The payment method token the customer gave (empty if voided before any charge)."
    )
    def method(self) -> str:
        return self.row.method or ""

    @strawberry.field(description="Why it was declined (the provider's reason) or voided.")
    def failure_reason(self) -> str | None:
        return self.row.failure_reason

    @strawberry.field
    def created_at(self) -> datetime:
        return self.row.created_at

    @strawberry.field(description="When all of the capture had been given back; null until then.")
    def refunded_at(self) -> datetime | None:
        return self.row.refunded_at

    @strawberry.field(description="What was given back so far, by every refund (0 when none).")
    def refunded_amount(self) -> Money:
        return Money(amount=self.row.refunded_amount, currency=self.row.currency or NO_CURRENCY)

    @strawberry.field(description="The money given back from this payment, oldest first.")
    async def refunds(self, info: Info) -> list[PaymentRefund]:
        rows = await PaymentService(info.context).refunds_of(self.row)
        return [PaymentRefund.from_row(row) for row in rows]

    @classmethod
    def from_row(cls, row: models.Payment) -> Payment:
        return cls(id=strawberry.ID(str(row.id)), row=row)

    @classmethod
    async def resolve_reference(cls, info: Info, id: strawberry.ID) -> Payment | None:
        return _optional(await PaymentService(info.context).get_payment(id))


@strawberry.type(description="Money given back from a payment: part of it (a return) or what was left of it.")
class PaymentRefund:
    id: strawberry.ID
    row: strawberry.Private[models.Refund]

    @strawberry.field
    def amount(self) -> Money:
        return Money(amount=self.row.amount, currency=self.row.currency)

    @strawberry.field
    def reason(self) -> str:
        return self.row.reason

    @strawberry.field
    def created_at(self) -> datetime:
        return self.row.created_at

    @classmethod
    def from_row(cls, row: models.Refund) -> PaymentRefund:
        return cls(id=strawberry.ID(str(row.id)), row=row)


def _optional(row: models.Payment | None) -> Payment | None:
    return Payment.from_row(row) if row is not None else None


@strawberry.federation.input(inaccessible=True, description="A charge for the order saga (internal).")
class ChargePaymentInput:
    key: str = strawberry.field(description="Idempotency key: a retry with it returns the first result.")
    order_id: strawberry.ID
    user_id: strawberry.ID
    amount: MoneyInput = strawberry.field(description="At least 1 minor unit.")
    method: str = strawberry.field(description="The payment method token (1 to 100 characters).")


@strawberry.federation.input(
    inaccessible=True, description="A partial refund of an order's payment (internal)."
)
class RefundPaymentPartiallyInput:
    key: str = strawberry.field(description="Idempotency key: a repeat with it returns the first refund.")
    order_id: strawberry.ID
    amount: int = strawberry.field(description="Minor units of `currency` to give back, at least 1.")
    currency: str = strawberry.field(description="The payment's currency.")
    reason: str = strawberry.field(description="Why (1 to 500 characters), e.g. the return it refunds.")


@strawberry.type
class Query:
    @strawberry.field(description="A payment by id: the customer who paid, ADMIN, PARTNER; null when none.")
    async def payment(self, info: Info, id: strawberry.ID) -> Payment | None:
        return _optional(await PaymentService(info.context).get_payment(id))


@strawberry.type
class Mutation:
    @strawberry.mutation(
        **guarded(IsService, Inaccessible()),
        description=(
            "Charge once per key (internal, SERVICE). A declined card is a DECLINED payment, not an error; "
            "a transient provider failure is PAYMENT_PROVIDER_UNAVAILABLE (retryable: same key)."
        ),
    )
    async def charge_payment(self, info: Info, input: ChargePaymentInput) -> Payment:
        request = clean_charge(
            key=input.key,
            order_id=input.order_id,
            user_id=input.user_id,
            amount=input.amount.amount,
            currency=input.amount.currency,
            method=input.method,
        )
        return Payment.from_row(await PaymentService(info.context).charge(request))

    @strawberry.mutation(
        **guarded(IsService, Inaccessible()),
        description=(
            "Refund the charge of `key` once (internal, SERVICE). A key never charged is VOIDED, so a late "
            "charge with it charges nothing; a transient failure is PAYMENT_PROVIDER_UNAVAILABLE (retry)."
        ),
    )
    async def refund_payment(self, info: Info, key: str, reason: str) -> Payment:
        return Payment.from_row(await PaymentService(info.context).refund(key, reason))

    @strawberry.mutation(
        **guarded(IsService, Inaccessible()),
        description=(
            "Give back part of an order's capture, once per key (internal, SERVICE; returns). More than "
            "captured minus refunded is REFUND_EXCEEDS_PAYMENT; a key reused with another amount is CONFLICT."
        ),
    )
    async def refund_payment_partially(self, info: Info, input: RefundPaymentPartiallyInput) -> PaymentRefund:
        request = clean_partial_refund(
            key=input.key,
            order_id=input.order_id,
            amount=input.amount,
            currency=input.currency,
            reason=input.reason,
        )
        return PaymentRefund.from_row(await PaymentService(info.context).refund_partially(request))


schema = build_schema(query=Query, mutation=Mutation, types=[Payment, Order, PersonalDataExport])
