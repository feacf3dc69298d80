"""The shipping tables: zones (sets of countries), the countries they cover, and their methods with rates;
shipments of orders, each order's snapshot of lines, the outbox and the events consumed (`processed_events`).

A country belongs to at most one zone: `zone_countries` is keyed by the country alone, so the database refuses
a second zone for it whatever races. Money is minor units (BigInteger) of the method's one currency.
"""

from __future__ import annotations

import enum
import uuid
from datetime import UTC, datetime
from typing import Any

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
)
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Mapped, mapped_column, relationship

from shared.db import ModelBase, new_metadata
from shared.outbox import Outbox
from shared.subscriptions import processed_events_table

NAME_MAX_LENGTH = 100
CARRIER_MAX_LENGTH = 100
DESCRIPTION_MAX_LENGTH = 1000

RATE_FLAT = "FLAT"
RATE_WEIGHT_BANDS = "WEIGHT_BANDS"
RATE_KINDS = (RATE_FLAT, RATE_WEIGHT_BANDS)


def _now() -> datetime:
    return datetime.now(UTC)


class Base(ModelBase):
    __abstract__ = True
    metadata = new_metadata()


outbox = Outbox(Base.metadata, "shipping")
# The orders events this service has applied (`OrderCancelled`): a redelivery has no second effect.
processed_events = processed_events_table(Base.metadata)


class ShippingZone(Base):
    __tablename__ = "shipping_zones"

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True, default=uuid.uuid4)
    name: Mapped[str] = mapped_column(String(NAME_MAX_LENGTH), unique=True)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=_now)
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=_now, onupdate=_now)

    countries: Mapped[list[ZoneCountry]] = relationship(
        lazy="selectin", cascade="all, delete-orphan", order_by="ZoneCountry.country"
    )


class ZoneCountry(Base):
    """One country of one zone; the primary key on the country alone is the "at most one zone" rule."""

    __tablename__ = "zone_countries"
    __table_args__ = (Index("ix_zone_countries_zone_id", "zone_id"),)

    country: Mapped[str] = mapped_column(String(2), primary_key=True)
    zone_id: Mapped[uuid.UUID] = mapped_column(Uuid, ForeignKey("shipping_zones.id", ondelete="CASCADE"))


class ShippingMethod(Base):
    """A way to ship to a zone's countries, priced in one currency: a flat price, or the price of the first
    weight band whose `max_grams` holds the cart (`weight_bands`: `[{"maxGrams", "amount"}]`, strictly
    increasing), free when the cart's subtotal reaches `free_above_amount`. Archived (`active` false) methods
    stay for the orders that name them."""

    __tablename__ = "shipping_methods"
    __table_args__ = (
        Index("ix_shipping_methods_zone_id", "zone_id"),
        CheckConstraint("rate_kind IN ('FLAT', 'WEIGHT_BANDS')", name="rate_kind"),
        CheckConstraint("min_delivery_days >= 0 AND min_delivery_days <= max_delivery_days", name="days"),
        CheckConstraint("flat_amount IS NULL OR flat_amount >= 0", name="flat_amount"),
        CheckConstraint("free_above_amount IS NULL OR free_above_amount >= 0", name="free_above_amount"),
        CheckConstraint("rate_kind <> 'FLAT' OR flat_amount IS NOT NULL", name="flat_has_price"),
    )

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True, default=uuid.uuid4)
    # RESTRICT: a zone goes only once its methods are gone (the service deletes archived ones with it).
    zone_id: Mapped[uuid.UUID] = mapped_column(Uuid, ForeignKey("shipping_zones.id", ondelete="RESTRICT"))
    name: Mapped[str] = mapped_column(String(NAME_MAX_LENGTH))
    description: Mapped[str] = mapped_column(Text, default="")
    carrier: Mapped[str] = mapped_column(String(CARRIER_MAX_LENGTH), default="")
    min_delivery_days: Mapped[int] = mapped_column(Integer)
    max_delivery_days: Mapped[int] = mapped_column(Integer)
    currency: Mapped[str] = mapped_column(String(3))
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    rate_kind: Mapped[str] = mapped_column(String(16))
    flat_amount: Mapped[int | None] = mapped_column(BigInteger, nullable=True)
    weight_bands: Mapped[list[dict[str, Any]]] = mapped_column(JSONB, default=list)
    free_above_amount: Mapped[int | None] = mapped_column(BigInteger, nullable=True)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=_now)
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=_now, onupdate=_now)


# --- shipments ---

TRACKING_NUMBER_MAX_LENGTH = 100
TRACKING_URL_MAX_LENGTH = 500
IDEMPOTENCY_KEY_MAX_LENGTH = 200
RETURN_REASON_MAX_LENGTH = 500


class ShipmentStatus(enum.StrEnum):
    PENDING = "PENDING"  # packed, not handed to a carrier yet
    SHIPPED = "SHIPPED"  # with the carrier
    DELIVERED = "DELIVERED"  # the customer has it
    RETURNED = "RETURNED"  # came back to the sender undelivered: its quantities may be shipped again
    CANCELLED = "CANCELLED"  # never left (by staff, or its order was cancelled)


# Shipments whose quantities count against what an order line may still ship.
HOLDING_STATUSES = frozenset({ShipmentStatus.PENDING, ShipmentStatus.SHIPPED, ShipmentStatus.DELIVERED})


class FulfillmentOrder(Base):
    """What shipping knows of an order, copied from orders' `fulfillmentOrder` at its first shipment (an
    order's lines never change after it is placed): its customer (who may read its shipments), when it was
    placed (events carry it for analytics' time to ship) and its lines
    (`[{line, productId, variantId, sku, productName, variantLabel, quantity}]`)."""

    __tablename__ = "fulfillment_orders"

    order_id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True)
    user_id: Mapped[uuid.UUID] = mapped_column(Uuid)
    order_created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    lines: Mapped[list[dict[str, Any]]] = mapped_column(JSONB)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=_now)


def _shipment_status_check() -> str:
    names = ", ".join(f"'{status.value}'" for status in ShipmentStatus)
    return f"status IN ({names})"


class Shipment(Base):
    """A parcel of some of an order's lines. `lines` are copies of the order's lines with the quantity in this
    parcel (`[{line, productId, variantId, sku, productName, variantLabel, quantity}]`). The idempotency key
    is unique per caller (`created_by`): a retried `createShipment` answers the first one."""

    __tablename__ = "shipments"
    __table_args__ = (
        CheckConstraint(_shipment_status_check(), name="status"),
        UniqueConstraint("created_by", "idempotency_key"),
        # `Order.shipments`, and the order's lock holder reading what its lines hold.
        Index("ix_shipments_order_id_created_at", "order_id", "created_at"),
        # `shipments(status)`, newest first, and the listing of all.
        Index("ix_shipments_status_created_at_id", "status", "created_at", "id"),
        Index("ix_shipments_created_at_id", "created_at", "id"),
    )

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True, default=uuid.uuid4)
    order_id: Mapped[uuid.UUID] = mapped_column(Uuid, ForeignKey("fulfillment_orders.order_id"))
    user_id: Mapped[uuid.UUID] = mapped_column(Uuid)
    status: Mapped[str] = mapped_column(String(16), default=ShipmentStatus.PENDING)
    lines: Mapped[list[dict[str, Any]]] = mapped_column(JSONB)
    carrier: Mapped[str | None] = mapped_column(String(CARRIER_MAX_LENGTH), nullable=True)
    tracking_number: Mapped[str | None] = mapped_column(String(TRACKING_NUMBER_MAX_LENGTH), nullable=True)
    tracking_url: Mapped[str | None] = mapped_column(String(TRACKING_URL_MAX_LENGTH), nullable=True)
    return_reason: Mapped[str | None] = mapped_column(String(RETURN_REASON_MAX_LENGTH), nullable=True)
    created_by: Mapped[uuid.UUID] = mapped_column(Uuid)
    idempotency_key: Mapped[str] = mapped_column(String(IDEMPOTENCY_KEY_MAX_LENGTH))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=_now)
    shipped_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    delivered_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    returned_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    cancelled_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=_now, onupdate=_now)
