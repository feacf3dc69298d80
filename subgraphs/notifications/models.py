"""The notifications tables: the mails (one row per recipient and event, their delivery state), the product
watches, the partners' webhook endpoints with their deliveries (webhooks*.py), and the consumers' record of
the events they have processed."""

from __future__ import annotations

import enum
import uuid
from datetime import datetime

from sqlalchemy import (
    BigInteger,
    CheckConstraint,
    DateTime,
    ForeignKey,
    Identity,
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
from shared.subscriptions import processed_events_table


class Base(ModelBase):
    __abstract__ = True
    metadata = new_metadata()


# (consumer group, event id) of every event handled, written in the handler's transaction.
processed_events = processed_events_table(Base.metadata)


class NotificationKind(enum.StrEnum):
    WELCOME = "WELCOME"
    ORDER_CONFIRMED = "ORDER_CONFIRMED"
    ORDER_CANCELLED = "ORDER_CANCELLED"
    PRICE_DROP = "PRICE_DROP"
    BACK_IN_STOCK = "BACK_IN_STOCK"
    # The account's mails (users' events): to the address the event names, not the directory's.
    EMAIL_VERIFICATION = "EMAIL_VERIFICATION"
    SIGN_UP_ATTEMPTED = "SIGN_UP_ATTEMPTED"
    PASSWORD_RESET = "PASSWORD_RESET"
    PASSWORD_CHANGED = "PASSWORD_CHANGED"
    EMAIL_CHANGE_CONFIRMATION = "EMAIL_CHANGE_CONFIRMATION"  # to the new address, with its code
    EMAIL_CHANGE_REQUESTED = "EMAIL_CHANGE_REQUESTED"  # to the previous address, no code
    EMAIL_CHANGED = "EMAIL_CHANGED"  # to the previous address, once confirmed
    # After the sale (issue 18): shipping's shipment events, orders' return events; to the order's customer.
    SHIPMENT_SHIPPED = "SHIPMENT_SHIPPED"
    SHIPMENT_DELIVERED = "SHIPMENT_DELIVERED"
    RETURN_APPROVED = "RETURN_APPROVED"
    RETURN_REJECTED = "RETURN_REJECTED"
    RETURN_REFUNDED = "RETURN_REFUNDED"
    # orders' `CartAbandoned`: the lines left in a signed-in customer's cart.
    CART_REMINDER = "CART_REMINDER"
    # A webhook endpoint was disabled after a run of failures: to its owner (webhooks_dispatch.py).
    WEBHOOK_DISABLED = "WEBHOOK_DISABLED"


class NotificationStatus(enum.StrEnum):
    PENDING = "PENDING"  # waiting for the sender (a failed try waits for its next one here too)
    SENT = "SENT"
    FAILED = "FAILED"  # refused for good, or out of tries: `failure_reason` says why


class Channel(enum.StrEnum):
    EMAIL = "EMAIL"


class Notification(Base):
    __tablename__ = "notifications"
    __table_args__ = (
        # One mail per event, recipient and kind: a redelivered event cannot make a second one.
        UniqueConstraint("event_id", "user_id", "kind"),
        # A sealed token lives only as long as its mail may still be sent.
        CheckConstraint("sealed_token IS NULL OR status = 'PENDING'", name="sealed_token_only_while_pending"),
        Index("ix_notifications_user_id_created_at_id", "user_id", "created_at", "id"),
        # The sender's work list: what is due, oldest first.
        Index("ix_notifications_due", "next_attempt_at", postgresql_where=text("status = 'PENDING'")),
        # Watch mails about a product, for the back-in-stock cooldown.
        Index(
            "ix_notifications_product_id_created_at",
            "product_id",
            "created_at",
            postgresql_where=text("product_id IS NOT NULL"),
        ),
    )

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True, default=uuid.uuid4)
    user_id: Mapped[uuid.UUID] = mapped_column(Uuid)
    kind: Mapped[str] = mapped_column(String(32))
    channel: Mapped[str] = mapped_column(String(16), server_default=Channel.EMAIL.value)
    # The event this mail answers (its id in the producer's outbox).
    event_id: Mapped[uuid.UUID] = mapped_column(Uuid)
    # The product a watch mail is about; null for the others.
    product_id: Mapped[uuid.UUID | None] = mapped_column(Uuid)
    # The address, as the users service knew it when the event was handled; null when it knew no such user.
    recipient: Mapped[str | None] = mapped_column(String(320))
    # Rendered when the event is handled: what the row shows is what is sent, but for a one-time token, which
    # is stored as `mail.TOKEN_MASK` here and put in by the sender just before it sends (see sender.py).
    subject: Mapped[str] = mapped_column(Text)
    body: Mapped[str] = mapped_column(Text)
    body_html: Mapped[str] = mapped_column(Text)
    status: Mapped[str] = mapped_column(String(16), server_default=NotificationStatus.PENDING.value)
    # SMTP tries so far (a claim counts as one).
    attempts: Mapped[int] = mapped_column(Integer, server_default=text("0"))
    # When the sender may take it (next try); while a sender holds it, the end of that sender's lease.
    next_attempt_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    # Why the last try failed (kept while PENDING for the next try; final once FAILED).
    failure_reason: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    sent_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    # A mail carrying a one-time token (verification, reset, email change): the purpose it is sealed for
    # (`shared.sealed`; kept, so a FAILED one is known to need a new token), the token sealed as it came in
    # the event (cleared once SENT or FAILED: never in the clear here, not kept past its use) and when the
    # token stops working (the sender fails the mail rather than send a dead link).
    token_purpose: Mapped[str | None] = mapped_column(String(32))
    sealed_token: Mapped[str | None] = mapped_column(Text)
    token_expires_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))


class ProductWatch(Base):
    """A user interested in a product: mailed when its price drops or it comes back in stock."""

    __tablename__ = "product_watches"
    __table_args__ = (
        Index("ix_product_watches_product_id", "product_id"),
        Index("ix_product_watches_user_id_created_at_product_id", "user_id", "created_at", "product_id"),
    )

    user_id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True)
    product_id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())


class ForgottenUser(Base):
    """A deleted account (users' `UserDeleted`), by a digest of its id only: an event about the user that
    arrives after it (a retry, a dead letter replayed) writes no mail again."""

    __tablename__ = "forgotten_users"

    # SHA-256 hex of the user id: the tombstone itself names nobody.
    user_digest: Mapped[str] = mapped_column(String(64), primary_key=True)
    forgotten_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())


class WebhookStatus(enum.StrEnum):
    ACTIVE = "ACTIVE"
    DISABLED = "DISABLED"  # after a run of failures (or never again until `enableWebhook`)


class WebhookDeliveryStatus(enum.StrEnum):
    PENDING = "PENDING"  # waiting for its (next) try; while a dispatcher holds it, leased
    DELIVERED = "DELIVERED"  # a 2xx answer
    DEAD = "DEAD"  # out of tries: a dead letter until replayed


class WebhookEndpoint(Base):
    """A partner's or an admin's URL that receives the events it subscribed to, signed with its secret."""

    __tablename__ = "webhook_endpoints"
    __table_args__ = (Index("ix_webhook_endpoints_owner_id_created_at_id", "owner_id", "created_at", "id"),)

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True, default=uuid.uuid4)
    owner_id: Mapped[uuid.UUID] = mapped_column(Uuid)
    url: Mapped[str] = mapped_column(String(2048))
    # Event types from the allow-list (webhooks_events.py), or ["*"] for all of them.
    events: Mapped[list[str]] = mapped_column(ARRAY(String(64)))
    description: Mapped[str | None] = mapped_column(String(500))
    # The signing secret sealed with the service secret (`shared.sealed`): a dump of the table signs nothing.
    sealed_secret: Mapped[str] = mapped_column(Text)
    # After a rotation the previous secret signs too (a second `v1=`) until `previous_secret_expires_at`.
    sealed_previous_secret: Mapped[str | None] = mapped_column(Text)
    previous_secret_expires_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    status: Mapped[str] = mapped_column(String(16), server_default=WebhookStatus.ACTIVE.value)
    disabled_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    disabled_reason: Mapped[str | None] = mapped_column(Text)
    # Whether the owner was mailed about the last disabling (the dispatcher mails, then sets it).
    owner_notified: Mapped[bool] = mapped_column(server_default=text("true"))
    # Deliveries that went DEAD since the last one DELIVERED, and since when every try has failed.
    dead_in_a_row: Mapped[int] = mapped_column(Integer, server_default=text("0"))
    failing_since: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())


class WebhookEvent(Base):
    """An event some endpoint subscribed to, kept once however many endpoints get it: the envelope's parts."""

    __tablename__ = "webhook_events"

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True)  # the event's own id
    type: Mapped[str] = mapped_column(String(100))
    producer: Mapped[str] = mapped_column(String(50))
    occurred_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    data: Mapped[dict[str, object]] = mapped_column(JSONB)


class WebhookDelivery(Base):
    """One event to one endpoint: never twice (unique), in order per (endpoint, ordering key)."""

    __tablename__ = "webhook_deliveries"
    __table_args__ = (
        UniqueConstraint("endpoint_id", "event_id"),
        Index("ix_webhook_deliveries_endpoint_id_created_at_id", "endpoint_id", "created_at", "id"),
        # The dispatcher's work list, and the "is an earlier one of this key still waiting" probe.
        Index("ix_webhook_deliveries_due", "next_attempt_at", postgresql_where=text("status = 'PENDING'")),
        Index(
            "ix_webhook_deliveries_pending_key",
            "endpoint_id",
            "ordering_key",
            "occurred_at",
            "sequence",
            postgresql_where=text("status = 'PENDING'"),
        ),
        Index("ix_webhook_deliveries_event_id", "event_id"),
    )

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True, default=uuid.uuid4)
    # Insertion order: breaks ties of `occurred_at` within a key.
    sequence: Mapped[int] = mapped_column(BigInteger, Identity(always=False))
    endpoint_id: Mapped[uuid.UUID] = mapped_column(
        Uuid, ForeignKey("webhook_endpoints.id", ondelete="CASCADE")
    )
    event_id: Mapped[uuid.UUID] = mapped_column(Uuid, ForeignKey("webhook_events.id", ondelete="CASCADE"))
    event_type: Mapped[str] = mapped_column(String(100))
    # The event's `orderId` when it has one, else its aggregate id (webhooks_events.ordering_key).
    ordering_key: Mapped[str] = mapped_column(String(100))
    occurred_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    status: Mapped[str] = mapped_column(String(16), server_default=WebhookDeliveryStatus.PENDING.value)
    # Tries so far (a claim counts as one); a replay starts them over.
    attempts: Mapped[int] = mapped_column(Integer, server_default=text("0"))
    # When the dispatcher may take it; while one holds it, the end of that dispatcher's lease.
    next_attempt_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    last_response_status: Mapped[int | None] = mapped_column(Integer)
    last_error: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    delivered_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    dead_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))


class WebhookAttempt(Base):
    """One POST of a delivery: when, how long, the answer's status or the error."""

    __tablename__ = "webhook_attempts"
    __table_args__ = (Index("ix_webhook_attempts_delivery_id_attempt", "delivery_id", "attempt"),)

    id: Mapped[int] = mapped_column(BigInteger, Identity(always=False), primary_key=True)
    delivery_id: Mapped[uuid.UUID] = mapped_column(
        Uuid, ForeignKey("webhook_deliveries.id", ondelete="CASCADE")
    )
    attempt: Mapped[int] = mapped_column(Integer)
    attempted_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    response_status: Mapped[int | None] = mapped_column(Integer)
    error: Mapped[str | None] = mapped_column(Text)
    duration_ms: Mapped[int] = mapped_column(Integer)
