"""The shipping tables: zones (sets of countries), the countries they cover, and their methods with rates.

A country belongs to at most one zone: `zone_countries` is keyed by the country alone, so the database refuses
a second zone for it whatever races. Money is minor units (BigInteger) of the method's one currency.
"""

from __future__ import annotations

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
    Uuid,
)
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Mapped, mapped_column, relationship

from shared.db import ModelBase, new_metadata

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
