"""The users table: one row per account, with its argon2id password hash and its roles."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

from sqlalchemy import Boolean, CheckConstraint, DateTime, ForeignKey, Index, String, Text, func, text
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.orm import Mapped, mapped_column, validates

from shared.db import ModelBase, new_metadata
from shared.outbox import Outbox
from subgraphs.users.emails import skeleton

# The roles a user can hold (SERVICE belongs to service tokens only, never to a stored user).
USER_ROLE_NAMES = ("CUSTOMER", "ADMIN", "PARTNER")


class Base(ModelBase):
    __abstract__ = True
    metadata = new_metadata()


# The users service's domain events (events.UserEvent), written in the transaction of their change.
outbox = Outbox(Base.metadata, "users")


def _now() -> datetime:
    return datetime.now(UTC)


class User(Base):
    __tablename__ = "users"

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid.uuid4)
    # As the user typed it after email-validator's normalization (domain lower-cased, Unicode NFC); uniqueness
    # is case-insensitive through the unique index on lower(email).
    email: Mapped[str] = mapped_column(String(254))
    # UTS #39 skeleton of the case-folded email (emails.skeleton), unique: one account per look-alike family.
    # Set whenever `email` is assigned (below). NULL only on a row the migration found colliding with an older
    # one (0005_email_skeleton): it still signs in, and its address stays taken through lower(email).
    email_skeleton: Mapped[str | None] = mapped_column(Text)
    name: Mapped[str] = mapped_column(String(200))
    password_hash: Mapped[str] = mapped_column(Text)
    roles: Mapped[list[str]] = mapped_column(ARRAY(Text))
    # Set in Python (not now()): rows made in one transaction still get distinct, ordered times.
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=_now)
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=_now, onupdate=_now)
    # When the owner proved they read mail at `email` (a verification, reset or email-change token); None
    # until then. Accounts older than verification (migration 0004) count as verified at their creation.
    email_verified_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)

    __table_args__ = (
        Index("uq_users_lower_email", func.lower(email), unique=True),
        Index("uq_users_email_skeleton", "email_skeleton", unique=True),
        # The keyset of `Query.users`: (created_at, id).
        Index("ix_users_created_at_id", "created_at", "id"),
        CheckConstraint(
            text("cardinality(roles) >= 1 AND roles <@ ARRAY['CUSTOMER', 'ADMIN', 'PARTNER']::text[]"),
            name="known_roles",
        ),
    )

    @validates("email")
    def _keep_skeleton(self, _key: str, email: str) -> str:
        # Every path that sets an address (register, changeEmail, the demo seed) keeps the skeleton with it;
        # an UPDATE statement that bypasses the ORM must set both.
        self.email_skeleton = skeleton(email)
        return email


class Address(Base):
    """One entry of a user's address book (shared.addresses.AddressValue plus its default flags)."""

    __tablename__ = "addresses"

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid.uuid4)
    user_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    name: Mapped[str] = mapped_column(String(200))
    company: Mapped[str] = mapped_column(String(200))
    line1: Mapped[str] = mapped_column(String(200))
    line2: Mapped[str] = mapped_column(String(200))
    city: Mapped[str] = mapped_column(String(100))
    postal_code: Mapped[str] = mapped_column(String(20))
    region: Mapped[str] = mapped_column(String(100))
    country: Mapped[str] = mapped_column(String(2))
    phone: Mapped[str] = mapped_column(String(40))
    is_default_shipping: Mapped[bool] = mapped_column(Boolean, default=False)
    is_default_billing: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=_now)
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=_now, onupdate=_now)

    __table_args__ = (
        Index("ix_addresses_user_id_created_at", "user_id", "created_at"),
        # At most one default of each kind per user, whatever the code does.
        Index(
            "uq_addresses_default_shipping",
            "user_id",
            unique=True,
            postgresql_where=text("is_default_shipping"),
        ),
        Index(
            "uq_addresses_default_billing",
            "user_id",
            unique=True,
            postgresql_where=text("is_default_billing"),
        ),
    )


# What an account token proves (accounts.py): the owner reads mail at `email`, for one purpose.
ACCOUNT_TOKEN_PURPOSES = ("VERIFY_EMAIL", "RESET_PASSWORD", "CHANGE_EMAIL")


class AccountToken(Base):
    """A single-use secret mailed to a user (verify the address, reset the password, confirm a new address).

    Only its SHA-256 is stored: a database dump holds no usable token. A new token of one purpose replaces
    the user's unused ones of that purpose (account_tokens.issue).
    """

    __tablename__ = "account_tokens"

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid.uuid4)
    user_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    purpose: Mapped[str] = mapped_column(String(20))
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    # The address the token was mailed to: a token for an address the account no longer has is void.
    email: Mapped[str] = mapped_column(String(254))
    expires_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    used_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=_now)

    __table_args__ = (
        Index("ix_account_tokens_user_id_purpose", "user_id", "purpose"),
        CheckConstraint(
            text("purpose IN ('VERIFY_EMAIL', 'RESET_PASSWORD', 'CHANGE_EMAIL')"), name="known_purpose"
        ),
    )
