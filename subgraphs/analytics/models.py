"""The analytics tables: facts kept from every service's events, and what the consumer has processed.

Nothing here is the source of truth of anything: each row is derived from events, written by the handlers in
events.py in the consumer's transaction (with the `processed_events` row that makes a redelivery a no-op).
Reports (service.py) are computed from these facts when asked, so events arriving out of order between
streams (a cancellation before its confirmation) still end in the right figures.
"""

from __future__ import annotations

import uuid
from datetime import date, datetime

from sqlalchemy import BigInteger, Boolean, Date, DateTime, Index, Integer, String, Text, Uuid, func, text
from sqlalchemy.orm import Mapped, mapped_column

from shared.db import ModelBase, new_metadata
from shared.subscriptions import processed_events_table


class Base(ModelBase):
    __abstract__ = True
    metadata = new_metadata()


# (group, event_id) of every event the consumer applied, inserted in the handler's own transaction.
processed_events = processed_events_table(Base.metadata)

USER_REGISTERED = "REGISTERED"
USER_LOGGED_IN = "LOGGED_IN"


class OrderFact(Base):
    """One order: when it was placed, confirmed, cancelled or failed (each null until it happened), and its
    total. Filled by OrderPlaced, OrderConfirmed, OrderCancelled and OrderStatusChanged, in any order."""

    __tablename__ = "order_facts"
    __table_args__ = (
        # Reports select by the time of each transition.
        Index("ix_order_facts_placed_at", "placed_at", postgresql_where=text("placed_at IS NOT NULL")),
        Index(
            "ix_order_facts_confirmed_at", "confirmed_at", postgresql_where=text("confirmed_at IS NOT NULL")
        ),
        Index(
            "ix_order_facts_cancelled_at", "cancelled_at", postgresql_where=text("cancelled_at IS NOT NULL")
        ),
        Index("ix_order_facts_failed_at", "failed_at", postgresql_where=text("failed_at IS NOT NULL")),
    )

    order_id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True)
    user_id: Mapped[uuid.UUID | None] = mapped_column(Uuid, nullable=True)
    # Null only while the one event seen is an OrderStatusChanged (which carries no money).
    currency: Mapped[str | None] = mapped_column(String(3), nullable=True)
    total_amount: Mapped[int | None] = mapped_column(BigInteger, nullable=True)
    placed_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    confirmed_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    cancelled_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    failed_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    # Why it was cancelled (OUT_OF_STOCK, PAYMENT_DECLINED, CANCELLED_BY_CUSTOMER, ...).
    cancel_code: Mapped[str | None] = mapped_column(String(64), nullable=True)
    # The price's breakdown (orders' pricing, in minor units; 0 from events older than it): the lines after
    # discount without tax, the discount, shipping without tax, the tax. Null until an event with money.
    items_net: Mapped[int | None] = mapped_column(BigInteger, nullable=True)
    discount_total: Mapped[int | None] = mapped_column(BigInteger, nullable=True)
    shipping_net: Mapped[int | None] = mapped_column(BigInteger, nullable=True)
    tax_total: Mapped[int | None] = mapped_column(BigInteger, nullable=True)
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())


class OrderLine(Base):
    """An order's lines as frozen at ordering: one per variant sold (orders merges repeated ones), several per
    product when several of its variants were ordered. Figures per product add its variants' lines up."""

    __tablename__ = "order_lines"
    __table_args__ = (
        Index("ix_order_lines_product_id", "product_id"),
        Index("ix_order_lines_variant_id", "variant_id"),
    )

    order_id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True)
    # The variant sold; an event older than variants names none: its product's id (that product's one
    # variant shares it), as does every line kept before migration 0003.
    variant_id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True)
    product_id: Mapped[uuid.UUID] = mapped_column(Uuid)
    quantity: Mapped[int] = mapped_column(Integer)
    unit_price_amount: Mapped[int] = mapped_column(BigInteger)
    currency: Mapped[str] = mapped_column(String(3))


class OrderDiscount(Base):
    """A promotion's discount on an order (the `discounts` of its events): voucher usage reads these."""

    __tablename__ = "order_discounts"
    __table_args__ = (Index("ix_order_discounts_promotion_id", "promotion_id"),)

    order_id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True)
    promotion_id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True)
    # The voucher code the customer entered; null for an automatic promotion.
    code: Mapped[str | None] = mapped_column(String(64), nullable=True)
    name: Mapped[str] = mapped_column(String(100))
    amount: Mapped[int] = mapped_column(BigInteger)
    currency: Mapped[str] = mapped_column(String(3))


class OrderStatusChange(Base):
    """Every status transition of every order (OrderStatusChanged), FAILED and the saga's steps included."""

    __tablename__ = "order_status_changes"
    __table_args__ = (
        Index("ix_order_status_changes_order_id_at", "order_id", "at"),
        Index("ix_order_status_changes_status_at", "status", "at"),
    )

    event_id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True)
    order_id: Mapped[uuid.UUID] = mapped_column(Uuid)
    status: Mapped[str] = mapped_column(String(32))
    previous_status: Mapped[str | None] = mapped_column(String(32), nullable=True)
    reason: Mapped[str | None] = mapped_column(Text, nullable=True)
    at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


class PaymentFact(Base):
    """One payment: its charge's outcome (PaymentProcessed) and its refund (PaymentRefunded), in any order."""

    __tablename__ = "payment_facts"
    __table_args__ = (
        Index(
            "ix_payment_facts_processed_at", "processed_at", postgresql_where=text("processed_at IS NOT NULL")
        ),
        Index(
            "ix_payment_facts_refunded_at", "refunded_at", postgresql_where=text("refunded_at IS NOT NULL")
        ),
    )

    payment_id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True)
    order_id: Mapped[uuid.UUID | None] = mapped_column(Uuid, nullable=True)
    user_id: Mapped[uuid.UUID | None] = mapped_column(Uuid, nullable=True)
    amount: Mapped[int] = mapped_column(BigInteger)
    currency: Mapped[str] = mapped_column(String(3))
    # CAPTURED or DECLINED; null while only the refund was seen.
    status: Mapped[str | None] = mapped_column(String(16), nullable=True)
    failure_reason: Mapped[str | None] = mapped_column(Text, nullable=True)
    processed_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    refunded_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    refund_reason: Mapped[str | None] = mapped_column(Text, nullable=True)


class UserEvent(Base):
    """A registration or a login of a user (UserRegistered, UserLoggedIn), at the time it happened."""

    __tablename__ = "user_events"
    __table_args__ = (
        Index("ix_user_events_kind_at", "kind", "at"),
        Index("ix_user_events_user_id", "user_id"),
    )

    event_id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True)
    user_id: Mapped[uuid.UUID] = mapped_column(Uuid)
    kind: Mapped[str] = mapped_column(String(16))
    at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


class ProductActivityDay(Base):
    """Reads and search appearances of one product on one (UTC) day: counters, added to by each event."""

    __tablename__ = "product_activity_daily"

    product_id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True)
    day: Mapped[date] = mapped_column(Date, primary_key=True)
    # Reads of the product by id (ProductViewed, batched: each event adds its `count`).
    views: Mapped[int] = mapped_column(BigInteger, server_default=text("0"))
    # Appearances in the first page of a search's results (ProductSearched: one per search listing it).
    searches: Mapped[int] = mapped_column(BigInteger, server_default=text("0"))


class ProductFact(Base):
    """The catalog as its last ProductUpdated described it (names and prices for reports)."""

    __tablename__ = "product_facts"

    product_id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True)
    sku: Mapped[str] = mapped_column(String(64))
    name: Mapped[str] = mapped_column(String(200))
    category: Mapped[str | None] = mapped_column(String(100), nullable=True)
    active: Mapped[bool] = mapped_column(Boolean)
    price_amount: Mapped[int] = mapped_column(BigInteger)
    price_currency: Mapped[str] = mapped_column(String(3))
    # The time of the event this row reflects: an older event arriving late changes nothing.
    changed_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


class StockLevelFact(Base):
    """A variant's stock as its last StockChanged said, and when it last fell below the low threshold.
    Inventory keeps stock per variant; an event without `variantId` (older than variants) is of the variant
    sharing its product's id."""

    __tablename__ = "stock_levels"
    __table_args__ = (Index("ix_stock_levels_product_id", "product_id"),)

    variant_id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True)
    # The variant's product as the events said (its own id for a product sold as one thing).
    product_id: Mapped[uuid.UUID] = mapped_column(Uuid)
    available: Mapped[int] = mapped_column(Integer, server_default=text("0"))
    reserved: Mapped[int] = mapped_column(Integer, server_default=text("0"))
    on_hand: Mapped[int] = mapped_column(Integer, server_default=text("0"))
    # Null while only a StockLow was seen; an older StockChanged arriving late changes nothing.
    changed_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    low_alerts: Mapped[int] = mapped_column(Integer, server_default=text("0"))
    last_low_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)


class ShipmentFact(Base):
    """A shipment's times (shipping's ShipmentShipped and ShipmentDelivered, each carrying the whole
    shipment and its order's creation time): what `fulfillmentTimes` measures. A time once known is kept."""

    __tablename__ = "shipment_facts"
    __table_args__ = (
        Index("ix_shipment_facts_shipped_at", "shipped_at", postgresql_where=text("shipped_at IS NOT NULL")),
        Index(
            "ix_shipment_facts_delivered_at",
            "delivered_at",
            postgresql_where=text("delivered_at IS NOT NULL"),
        ),
    )

    shipment_id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True)
    order_id: Mapped[uuid.UUID] = mapped_column(Uuid)
    # When its order was created (placed): the start of "time to ship" and "time to deliver".
    order_created_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    shipped_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    delivered_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)


class RefundFact(Base):
    """Each refund payments made (PaymentRefunded): since partial refunds a payment has several, each event's
    `amount` what that refund gave back. An event older than partial refunds (no `refundId`) is the full
    refund of its payment, keyed by its event id."""

    __tablename__ = "refund_facts"
    __table_args__ = (
        Index("ix_refund_facts_refunded_at", "refunded_at", postgresql_where=text("partial")),
        Index("ix_refund_facts_payment_id", "payment_id"),
    )

    refund_id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True)
    payment_id: Mapped[uuid.UUID] = mapped_column(Uuid)
    order_id: Mapped[uuid.UUID | None] = mapped_column(Uuid, nullable=True)
    amount: Mapped[int] = mapped_column(BigInteger)
    currency: Mapped[str] = mapped_column(String(3))
    # A partial refund (a return); false: the full refund of what was left (a cancellation).
    partial: Mapped[bool] = mapped_column(Boolean)
    refunded_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


class ReturnFact(Base):
    """A refunded return (orders' ReturnRefunded): the refund's breakdown, which the sales breakdown
    (netRevenue, taxCollected, shippingRevenue, discountTotal) takes back when it happened. Orders refunds
    shipping only with the return that makes the whole order returned, as what the order charged beyond its
    lines (shipping with its tax): the reports split it with the order's own shipping_net."""

    __tablename__ = "return_facts"
    __table_args__ = (Index("ix_return_facts_refunded_at", "refunded_at"),)

    return_id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True)
    order_id: Mapped[uuid.UUID] = mapped_column(Uuid)
    currency: Mapped[str] = mapped_column(String(3))
    # The returned lines after their share of discounts, without tax or shipping: total - shipping - tax.
    items_net: Mapped[int] = mapped_column(BigInteger)
    discount_total: Mapped[int] = mapped_column(BigInteger)
    # The lines' tax shares (the shipping's tax is inside `shipping`).
    tax_total: Mapped[int] = mapped_column(BigInteger)
    # The shipping given back, its tax included (0 but for the return completing the order).
    shipping: Mapped[int] = mapped_column(BigInteger)
    total: Mapped[int] = mapped_column(BigInteger)
    refunded_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


class ReturnLine(Base):
    """A refunded return's line (by the order line's number): the units that came back, which the product
    and variant figures take back at the price frozen on the order line."""

    __tablename__ = "return_lines"
    __table_args__ = (
        Index("ix_return_lines_product_id", "product_id"),
        Index("ix_return_lines_variant_id", "variant_id"),
        Index("ix_return_lines_order_id_variant_id", "order_id", "variant_id"),
    )

    return_id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True)
    line: Mapped[int] = mapped_column(Integer, primary_key=True)
    order_id: Mapped[uuid.UUID] = mapped_column(Uuid)
    product_id: Mapped[uuid.UUID] = mapped_column(Uuid)
    variant_id: Mapped[uuid.UUID] = mapped_column(Uuid)
    quantity: Mapped[int] = mapped_column(Integer)
    refunded_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
