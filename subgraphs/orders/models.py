"""The orders tables: orders with their frozen lines, status history and saga progress; carts."""

from __future__ import annotations

import enum
import uuid
from datetime import datetime

from sqlalchemy import (
    BigInteger,
    Boolean,
    CheckConstraint,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
    Uuid,
    func,
    text,
)
from sqlalchemy.dialects.postgresql import ARRAY, JSONB
from sqlalchemy.orm import Mapped, mapped_column

from shared.db import ModelBase, new_metadata
from shared.outbox import Outbox
from shared.subscriptions import processed_events_table


class Base(ModelBase):
    __abstract__ = True
    metadata = new_metadata()


outbox = Outbox(Base.metadata, "orders")
# The events orders applies: users' `UserDeleted` (privacy.py).
processed_events = processed_events_table(Base.metadata)


class OrderStatus(enum.StrEnum):
    PENDING = "PENDING"
    INVENTORY_RESERVED = "INVENTORY_RESERVED"
    PAYMENT_AUTHORIZED = "PAYMENT_AUTHORIZED"
    CONFIRMED = "CONFIRMED"
    CANCELLED = "CANCELLED"
    FAILED = "FAILED"


FINAL_STATUSES = frozenset({OrderStatus.CONFIRMED, OrderStatus.CANCELLED, OrderStatus.FAILED})


class SagaState(enum.StrEnum):
    RUNNING = "RUNNING"  # going forward: reserve, charge, confirm
    COMPENSATING = "COMPENSATING"  # undoing what started, in reverse, then ending in `final_status`
    DONE = "DONE"


class Order(Base):
    __tablename__ = "orders"
    __table_args__ = (
        # One order per (user, idempotency key): a retried placeOrder finds the first one.
        UniqueConstraint("user_id", "idempotency_key"),
        CheckConstraint("total_amount >= 0", name="total_not_negative"),
        Index("ix_orders_user_id_created_at_id", "user_id", "created_at", "id"),
        Index("ix_orders_status_created_at_id", "status", "created_at", "id"),
        Index("ix_orders_created_at_id", "created_at", "id"),
        # The recovery worker's work list: unfinished sagas by lease expiry.
        Index("ix_orders_unfinished_lease", "lease_until", postgresql_where=text("saga_state <> 'DONE'")),
    )

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True, default=uuid.uuid4)
    user_id: Mapped[uuid.UUID] = mapped_column(Uuid)
    idempotency_key: Mapped[str] = mapped_column(String(100))
    # SHA-256 of the request (lines and payment method): the same key with another cart is refused.
    request_hash: Mapped[str] = mapped_column(String(64))
    status: Mapped[str] = mapped_column(String(32), server_default=OrderStatus.PENDING.value)
    currency: Mapped[str] = mapped_column(String(3))
    total_amount: Mapped[int] = mapped_column(BigInteger)
    payment_method: Mapped[str] = mapped_column(String(100))
    failure_code: Mapped[str | None] = mapped_column(String(64))
    failure_reason: Mapped[str | None] = mapped_column(Text)
    # The price as frozen at checkout (pricing.Breakdown); orders older than 0004 read zeros and empties.
    cart_id: Mapped[uuid.UUID | None] = mapped_column(Uuid)
    prices_include_tax: Mapped[bool] = mapped_column(Boolean, server_default=text("false"))
    subtotal_amount: Mapped[int] = mapped_column(BigInteger, server_default=text("0"))
    discount_amount: Mapped[int] = mapped_column(BigInteger, server_default=text("0"))
    shipping_amount: Mapped[int] = mapped_column(BigInteger, server_default=text("0"))
    shipping_net_amount: Mapped[int] = mapped_column(BigInteger, server_default=text("0"))
    tax_amount: Mapped[int] = mapped_column(BigInteger, server_default=text("0"))
    items_net_amount: Mapped[int] = mapped_column(BigInteger, server_default=text("0"))
    # {id, name} of the method, null without shipping; [{promotionId, code, name, kind, amount}];
    # [{taxClass, rateBp, name, net, amount}]; frozen address copies (AddressValue's keys).
    shipping_method: Mapped[dict[str, str] | None] = mapped_column(JSONB)
    discounts: Mapped[list[dict[str, object]]] = mapped_column(JSONB, server_default=text("'[]'"))
    tax_lines: Mapped[list[dict[str, object]]] = mapped_column(JSONB, server_default=text("'[]'"))
    shipping_address: Mapped[dict[str, str] | None] = mapped_column(JSONB)
    billing_address: Mapped[dict[str, str] | None] = mapped_column(JSONB)
    saga_state: Mapped[str] = mapped_column(String(16), server_default=SagaState.RUNNING.value)
    # Where a compensating saga ends (CANCELLED or FAILED).
    final_status: Mapped[str | None] = mapped_column(String(32))
    lease_owner: Mapped[str | None] = mapped_column(String(64))
    lease_until: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    # When shipping first shipped a parcel of it (`beginOrderShipment`, under this row's lock): from then on
    # the order cannot be cancelled (a return can follow its delivery instead).
    shipped_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    updated_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), server_default=func.now(), onupdate=func.now()
    )


class OrderItem(Base):
    __tablename__ = "order_items"
    __table_args__ = (
        CheckConstraint("quantity > 0", name="quantity_positive"),
        CheckConstraint("unit_price_amount >= 0", name="unit_price_not_negative"),
    )

    order_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("orders.id", ondelete="CASCADE"), primary_key=True)
    line: Mapped[int] = mapped_column(Integer, primary_key=True)
    # The product of the variant sold.
    product_id: Mapped[uuid.UUID] = mapped_column(Uuid)
    # The variant sold: what stock was reserved for. Lines older than variants (migration 0006) have their
    # product's id, which is that product's one variant's id.
    variant_id: Mapped[uuid.UUID] = mapped_column(Uuid)
    # Frozen at the time of ordering: a later price change or rename never changes a placed order.
    product_name: Mapped[str] = mapped_column(String(200))
    # The variant's SKU and option values ([{name, value}] in the product's option order, [] for a product
    # sold as one thing) as frozen; null on lines older than variants.
    sku: Mapped[str | None] = mapped_column(String(64))
    selected_options: Mapped[list[dict[str, str]] | None] = mapped_column(JSONB)
    quantity: Mapped[int] = mapped_column(Integer)
    unit_price_amount: Mapped[int] = mapped_column(BigInteger)
    currency: Mapped[str] = mapped_column(String(3))
    # The line's price as frozen (null on orders older than 0004: unit x quantity, no discount, no tax).
    discount_amount: Mapped[int | None] = mapped_column(BigInteger)
    tax_amount: Mapped[int | None] = mapped_column(BigInteger)
    total_amount: Mapped[int | None] = mapped_column(BigInteger)
    tax_class: Mapped[str | None] = mapped_column(String(32))
    tax_rate_bp: Mapped[int | None] = mapped_column(Integer)


class OrderStatusChange(Base):
    __tablename__ = "order_status_history"
    __table_args__ = (Index("ix_order_status_history_order_id_id", "order_id", "id"),)

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=True)
    order_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("orders.id", ondelete="CASCADE"))
    status: Mapped[str] = mapped_column(String(32))
    reason: Mapped[str | None] = mapped_column(Text)
    at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())


class SagaStep(Base):
    """One step of an order's saga: STARTED is written (and committed) before the peer is called, so a
    recovered saga knows which calls may have acted and must be compensated; DONE after the answer."""

    __tablename__ = "saga_steps"

    order_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("orders.id", ondelete="CASCADE"), primary_key=True)
    step: Mapped[str] = mapped_column(String(32), primary_key=True)
    status: Mapped[str] = mapped_column(String(16))
    attempts: Mapped[int] = mapped_column(Integer, server_default=text("0"))
    # What the peer answered (reservation or payment id, status), or the last error.
    detail: Mapped[str | None] = mapped_column(Text)
    updated_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), server_default=func.now(), onupdate=func.now()
    )


class OrderShipment(Base):
    """Orders' copy of one shipment of an order, kept from shipping's `Shipment*` events (fulfillment.py):
    what returns need to know (which lines were delivered, how many, when). Shipping owns shipments; this
    row follows them and is never written otherwise."""

    __tablename__ = "order_shipments"
    __table_args__ = (Index("ix_order_shipments_order_id", "order_id"),)

    shipment_id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True)
    order_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("orders.id", ondelete="CASCADE"))
    # Shipping's status: PENDING, SHIPPED, DELIVERED, RETURNED (to the sender) or CANCELLED.
    status: Mapped[str] = mapped_column(String(16))
    # [{line, quantity}]: the order lines (OrderItem.line) in this parcel.
    lines: Mapped[list[dict[str, int]]] = mapped_column(JSONB)
    carrier: Mapped[str | None] = mapped_column(String(100))
    tracking_number: Mapped[str | None] = mapped_column(String(100))
    tracking_url: Mapped[str | None] = mapped_column(Text)
    shipped_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    delivered_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    # The `occurredAt` of the last event applied: an older event arriving late changes nothing.
    event_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


# --- returns (returns.py, returns_process.py) ---


class ReturnStatus(enum.StrEnum):
    REQUESTED = "REQUESTED"  # the customer asked; staff decides
    APPROVED = "APPROVED"  # the customer may send the units back
    REJECTED = "REJECTED"  # final: its units count as not returned
    RECEIVED = "RECEIVED"  # the units arrived: the refund and the restock run (returns_process.py)
    REFUNDED = "REFUNDED"  # final: money back, units on hand


RETURN_REASON_MAX_LENGTH = 500
_RETURN_STATUSES = ", ".join(f"'{status}'" for status in ReturnStatus)


class Return(Base):
    """A return of some delivered units of one order. Its refund figures are an estimate until it is
    RECEIVED, then fixed (returns_refund.py); `lease_*` belong to the process that refunds and restocks it."""

    __tablename__ = "returns"
    __table_args__ = (
        # One return per (order, idempotency key): a retried requestReturn finds the first one.
        UniqueConstraint("order_id", "idempotency_key"),
        CheckConstraint(f"status IN ({_RETURN_STATUSES})", name="known_status"),
        CheckConstraint("refund_total >= 0", name="refund_not_negative"),
        Index("ix_returns_order_id_created_at", "order_id", "created_at"),
        Index("ix_returns_created_at_id", "created_at", "id"),
        # The recovery worker's work list: received returns whose process is unfinished, by lease expiry.
        Index("ix_returns_unfinished_lease", "lease_until", postgresql_where=text("status = 'RECEIVED'")),
    )

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True, default=uuid.uuid4)
    order_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("orders.id", ondelete="CASCADE"))
    # The order's customer (whoever asked: the customer or an admin on their behalf).
    user_id: Mapped[uuid.UUID] = mapped_column(Uuid)
    idempotency_key: Mapped[str] = mapped_column(String(100))
    # SHA-256 of the request (lines and reason): the same key with another request is refused.
    request_hash: Mapped[str] = mapped_column(String(64))
    status: Mapped[str] = mapped_column(String(16))
    reason: Mapped[str] = mapped_column(String(RETURN_REASON_MAX_LENGTH))
    rejection_reason: Mapped[str | None] = mapped_column(String(RETURN_REASON_MAX_LENGTH))
    currency: Mapped[str] = mapped_column(String(3))
    # The refund in minor units of `currency` (returns_refund.py): the lines' shares, and the order's
    # shipping when this return is the one that makes every unit of the order returned.
    refund_subtotal: Mapped[int] = mapped_column(BigInteger, server_default=text("0"))
    refund_discount: Mapped[int] = mapped_column(BigInteger, server_default=text("0"))
    refund_tax: Mapped[int] = mapped_column(BigInteger, server_default=text("0"))
    refund_shipping: Mapped[int] = mapped_column(BigInteger, server_default=text("0"))
    refund_total: Mapped[int] = mapped_column(BigInteger, server_default=text("0"))
    lease_owner: Mapped[str | None] = mapped_column(String(64))
    lease_until: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    approved_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    rejected_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    received_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    refunded_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))


class ReturnLine(Base):
    """Units of one order line in a return, with that line's share of the refund."""

    __tablename__ = "return_lines"
    __table_args__ = (CheckConstraint("quantity > 0", name="quantity_positive"),)

    return_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("returns.id", ondelete="CASCADE"), primary_key=True
    )
    # The order line (OrderItem.line).
    line: Mapped[int] = mapped_column(Integer, primary_key=True)
    quantity: Mapped[int] = mapped_column(Integer)
    subtotal: Mapped[int] = mapped_column(BigInteger, server_default=text("0"))
    discount: Mapped[int] = mapped_column(BigInteger, server_default=text("0"))
    tax: Mapped[int] = mapped_column(BigInteger, server_default=text("0"))
    refund: Mapped[int] = mapped_column(BigInteger, server_default=text("0"))


class ReturnStep(Base):
    """One step of a received return's process (refund, restock), like `SagaStep`: STARTED is committed before
    the peer is called, DONE after its answer."""

    __tablename__ = "return_steps"

    return_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("returns.id", ondelete="CASCADE"), primary_key=True
    )
    step: Mapped[str] = mapped_column(String(32), primary_key=True)
    status: Mapped[str] = mapped_column(String(16))
    attempts: Mapped[int] = mapped_column(Integer, server_default=text("0"))
    # What the peer answered (the refund's id), or the last error.
    detail: Mapped[str | None] = mapped_column(Text)
    updated_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), server_default=func.now(), onupdate=func.now()
    )


# --- carts (carts.py) ---


class CartStatus(enum.StrEnum):
    ACTIVE = "ACTIVE"
    COMPLETED = "COMPLETED"  # its checkout's order confirmed: kept for the order's history, never changed
    MERGED = "MERGED"  # a guest cart moved into a signed-in customer's cart; its token no longer works


class Cart(Base):
    """A customer's cart (`user_id`) or a guest's (`token_hash`: SHA-256 of the opaque token only its holder
    knows). Addresses are frozen JSON copies (shared.addresses.AddressValue): a later edit of the address
    book never changes a cart or its order."""

    __tablename__ = "carts"
    __table_args__ = (
        # One ACTIVE cart per signed-in customer: a second device finds the same cart.
        Index(
            "uq_carts_user_id_active",
            "user_id",
            unique=True,
            postgresql_where=text("status = 'ACTIVE' AND user_id IS NOT NULL"),
        ),
        UniqueConstraint("token_hash"),
        CheckConstraint(
            "user_id IS NOT NULL OR token_hash IS NOT NULL OR status <> 'ACTIVE'", name="has_owner"
        ),
        # Abandoned carts, oldest activity first (a cleanup job's work list).
        Index("ix_carts_status_last_activity_at", "status", "last_activity_at"),
    )

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True, default=uuid.uuid4)
    user_id: Mapped[uuid.UUID | None] = mapped_column(Uuid)
    token_hash: Mapped[str | None] = mapped_column(String(64))
    status: Mapped[str] = mapped_column(String(16), server_default=CartStatus.ACTIVE.value)
    # The first line's currency; null while the cart is empty.
    currency: Mapped[str | None] = mapped_column(String(3))
    shipping_address: Mapped[dict[str, str] | None] = mapped_column(JSONB)
    billing_address: Mapped[dict[str, str] | None] = mapped_column(JSONB)
    shipping_method_id: Mapped[str | None] = mapped_column(String(100))
    voucher_code: Mapped[str | None] = mapped_column(String(64))
    # The order whose saga runs on this cart (checkout.py): set at checkout, the cart COMPLETED when it is
    # CONFIRMED, cleared when it fails (the customer fixes the cart and tries again).
    checkout_order_id: Mapped[uuid.UUID | None] = mapped_column(Uuid)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    updated_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), server_default=func.now(), onupdate=func.now()
    )
    last_activity_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    # When `CartAbandoned` was last emitted for it (abandoned_carts.py): told again only after new activity.
    abandoned_notified_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))


class CartLine(Base):
    __tablename__ = "cart_lines"
    __table_args__ = (
        # One line per variant: adding a variant again adds to its line.
        UniqueConstraint("cart_id", "variant_id"),
        CheckConstraint("quantity > 0", name="quantity_positive"),
        CheckConstraint("seen_unit_price_amount >= 0", name="seen_unit_price_not_negative"),
    )

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True, default=uuid.uuid4)
    cart_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("carts.id", ondelete="CASCADE"))
    # The variant's product, as it was when the line was added (a variant never changes product).
    product_id: Mapped[uuid.UUID] = mapped_column(Uuid)
    # The variant in the cart (lines older than variants: their product's id, its one variant's).
    variant_id: Mapped[uuid.UUID] = mapped_column(Uuid)
    quantity: Mapped[int] = mapped_column(Integer)
    # The unit price the customer last saw (when adding, or the last time the cart was shown to them): a
    # different current price is a PRICE_CHANGED notice. The cart is always priced at the current price.
    seen_unit_price_amount: Mapped[int] = mapped_column(BigInteger)
    seen_currency: Mapped[str] = mapped_column(String(3))
    added_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())


# --- pricing: tax rates, promotions and vouchers (pricing.py, taxes.py, promotions.py) ---


class TaxRateRow(Base):
    """The rate of a (country, tax class); a pair without a row is taxed at 0 (pricing.py)."""

    __tablename__ = "tax_rates"
    __table_args__ = (CheckConstraint("rate_bp >= 0 AND rate_bp <= 10000", name="rate_bp_range"),)

    country: Mapped[str] = mapped_column(String(2), primary_key=True)
    tax_class: Mapped[str] = mapped_column(String(32), primary_key=True)
    rate_bp: Mapped[int] = mapped_column(Integer)  # basis points: 2000 = 20%
    name: Mapped[str] = mapped_column(String(64), server_default=text("''"))
    updated_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), server_default=func.now(), onupdate=func.now()
    )


class Promotion(Base):
    """An automatic promotion (no code) or a voucher (a code, unique whatever its case)."""

    __tablename__ = "promotions"
    __table_args__ = (
        CheckConstraint("kind IN ('PERCENTAGE', 'FIXED_AMOUNT', 'FREE_SHIPPING')", name="kind_known"),
        CheckConstraint("scope IN ('ALL', 'CATEGORIES', 'PRODUCTS')", name="scope_known"),
        CheckConstraint("value >= 0", name="value_not_negative"),
        CheckConstraint("used_count >= 0", name="used_count_not_negative"),
        CheckConstraint("usage_limit IS NULL OR used_count <= usage_limit", name="used_within_limit"),
        Index("uq_promotions_code_lower", func.lower(text("code")), unique=True),
    )

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True, default=uuid.uuid4)
    name: Mapped[str] = mapped_column(String(100))
    kind: Mapped[str] = mapped_column(String(16))
    # PERCENTAGE: basis points (1000 = 10%); FIXED_AMOUNT: minor units of `currency`; FREE_SHIPPING: 0.
    value: Mapped[int] = mapped_column(BigInteger)
    # The currency of a fixed amount and of the minimum subtotal; a cart in another currency gets nothing.
    currency: Mapped[str | None] = mapped_column(String(3))
    scope: Mapped[str] = mapped_column(String(16), server_default=text("'ALL'"))
    product_ids: Mapped[list[str]] = mapped_column(ARRAY(String(64)), server_default=text("'{}'"))
    categories: Mapped[list[str]] = mapped_column(ARRAY(String(100)), server_default=text("'{}'"))
    minimum_subtotal: Mapped[int | None] = mapped_column(BigInteger)
    starts_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    ends_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    code: Mapped[str | None] = mapped_column(String(64))
    usage_limit: Mapped[int | None] = mapped_column(Integer)
    per_customer_limit: Mapped[int | None] = mapped_column(Integer)
    used_count: Mapped[int] = mapped_column(Integer, server_default=text("0"))
    active: Mapped[bool] = mapped_column(Boolean, server_default=text("true"))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    updated_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), server_default=func.now(), onupdate=func.now()
    )


class PromotionUse(Base):
    """One order's use of a promotion: reserved by the checkout saga, deleted again when it compensates."""

    __tablename__ = "promotion_uses"
    __table_args__ = (
        # One use per (promotion, order): a retried reservation finds it.
        UniqueConstraint("promotion_id", "order_id"),
        Index("ix_promotion_uses_promotion_id_user_id", "promotion_id", "user_id"),
    )

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=True)
    promotion_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("promotions.id", ondelete="CASCADE"))
    order_id: Mapped[uuid.UUID] = mapped_column(Uuid)
    user_id: Mapped[uuid.UUID | None] = mapped_column(Uuid)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
