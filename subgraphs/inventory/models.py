"""The inventory tables: stock per variant, reservations for orders, the ledger every stock change writes, and
the catalog events consumed (`processed_events`).

Stock is kept per **variant** (what is sold: products' `ProductVariant`), each row knowing its product, so
`Product.stock` is a sum over the product's rows. A product older than variants (or created without them) has
one variant sharing its id, so every row keyed by a product id before variants existed is that variant's row.

`stock_items.on_hand` and `stock_items.reserved` are always the sums of the ledger's deltas for the variant;
the check constraints keep `0 <= reserved <= on_hand`, so the database itself refuses an oversell.
"""

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
    Uuid,
    func,
    text,
)
from sqlalchemy.orm import Mapped, mapped_column

from shared.db import ModelBase, new_metadata
from shared.outbox import Outbox
from shared.subscriptions import processed_events_table

KEY_MAX_LENGTH = 200
REASON_MAX_LENGTH = 200


class ReservationStatus(enum.StrEnum):
    RESERVED = "RESERVED"  # units held for the order
    CONFIRMED = "CONFIRMED"  # the units left the warehouse with the order
    RELEASED = "RELEASED"  # the order gave the units back before confirming (or never reserved: a tombstone)
    EXPIRED = "EXPIRED"  # nobody confirmed or released in time: the sweeper gave the units back
    RESTOCKED = "RESTOCKED"  # a confirmed order was cancelled: its units came back on hand


# Statuses after which a reservation never changes again.
FINAL_STATUSES = frozenset(
    {ReservationStatus.RELEASED, ReservationStatus.EXPIRED, ReservationStatus.RESTOCKED}
)


class Base(ModelBase):
    __abstract__ = True
    metadata = new_metadata()


outbox = Outbox(Base.metadata, "inventory")
# The catalog events (products' stream) this service has applied: a redelivery has no second effect.
processed_events = processed_events_table(Base.metadata)


def _status_check() -> str:
    names = ", ".join(f"'{status.value}'" for status in ReservationStatus)
    return f"status IN ({names})"


class StockItem(Base):
    """One variant's stock, and what inventory knows of it from the catalog's events. A variant without a row
    has nothing on hand."""

    __tablename__ = "stock_items"
    __table_args__ = (
        CheckConstraint("reserved >= 0", name="reserved_not_negative"),
        CheckConstraint("on_hand >= reserved", name="on_hand_covers_reserved"),
        # `Product.stock`: the rows of a product, summed.
        Index("ix_stock_items_product_id", "product_id"),
    )

    # The products subgraph's ids; inventory does not own the catalog, so no foreign keys.
    variant_id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True)
    # The variant's product; the variant's own id until an event of the catalog says otherwise (a row made by
    # an adjustment of an id inventory had not heard of: events may lag).
    product_id: Mapped[uuid.UUID] = mapped_column(Uuid)
    on_hand: Mapped[int] = mapped_column(Integer, server_default=text("0"))
    reserved: Mapped[int] = mapped_column(Integer, server_default=text("0"))
    # The variant's and its product's `active` flags as the catalog's events last said (true until one says
    # otherwise): a reservation of a variant that is not both is refused (NOT_SELLABLE).
    variant_active: Mapped[bool] = mapped_column(Boolean, server_default=text("true"))
    product_active: Mapped[bool] = mapped_column(Boolean, server_default=text("true"))
    # When the catalog made the change each flag holds (the event's `occurred_at`): an event older than the
    # one applied never overwrites it, so events handled out of order leave the newest state.
    variant_event_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    product_event_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())


class Reservation(Base):
    """Units held for one order, under the caller's idempotency key."""

    __tablename__ = "reservations"
    __table_args__ = (
        CheckConstraint(_status_check(), name="known_status"),
        # The sweeper's work list: live reservations by deadline.
        Index("ix_reservations_expires_at", "expires_at", postgresql_where=text("status = 'RESERVED'")),
    )

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True, server_default=func.gen_random_uuid())
    # Unique: what makes reserveStock idempotent, also between concurrent calls.
    key: Mapped[str] = mapped_column(String(KEY_MAX_LENGTH), unique=True)
    # Null for a tombstone (a release that arrived before its reservation).
    order_id: Mapped[uuid.UUID | None] = mapped_column(Uuid, nullable=True)
    status: Mapped[str] = mapped_column(String(16))
    # Set while RESERVED (when the sweeper may expire it) and kept once EXPIRED; null otherwise.
    expires_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    # Why it was released or restocked, as the caller said.
    reason: Mapped[str | None] = mapped_column(String(REASON_MAX_LENGTH), nullable=True)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())


class ReservationLine(Base):
    __tablename__ = "reservation_lines"
    __table_args__ = (CheckConstraint("quantity > 0", name="quantity_positive"),)

    reservation_id: Mapped[uuid.UUID] = mapped_column(
        Uuid, ForeignKey("reservations.id", ondelete="CASCADE"), primary_key=True
    )
    variant_id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True)
    quantity: Mapped[int] = mapped_column(Integer)


class StockMovement(Base):
    """The ledger: one row per change of a variant's stock row (several when one change serves several
    reservations)."""

    __tablename__ = "stock_movements"
    __table_args__ = (
        CheckConstraint("delta_on_hand <> 0 OR delta_reserved <> 0", name="moves_something"),
        Index("ix_stock_movements_variant_id_id", "variant_id", "id"),
        Index("ix_stock_movements_reservation_id", "reservation_id"),
    )

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=True)
    variant_id: Mapped[uuid.UUID] = mapped_column(Uuid, ForeignKey("stock_items.variant_id"))
    delta_on_hand: Mapped[int] = mapped_column(Integer)
    delta_reserved: Mapped[int] = mapped_column(Integer)
    reason: Mapped[str] = mapped_column(String(REASON_MAX_LENGTH))
    reservation_id: Mapped[uuid.UUID | None] = mapped_column(
        Uuid, ForeignKey("reservations.id"), nullable=True
    )
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())


class Restock(Base):
    """One `restockReturn` applied, under the caller's key: a repeat of the key finds it and adds nothing.
    The units it put back are ledger rows whose reason is the caller's (naming the return)."""

    __tablename__ = "restocks"

    key: Mapped[str] = mapped_column(String(KEY_MAX_LENGTH), primary_key=True)
    order_id: Mapped[uuid.UUID] = mapped_column(Uuid)
    reason: Mapped[str] = mapped_column(String(REASON_MAX_LENGTH))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
