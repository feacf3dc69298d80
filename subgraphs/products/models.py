"""The products table: the catalog, with a full-text search vector the database keeps in step with it."""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import (
    BigInteger,
    Boolean,
    CheckConstraint,
    Computed,
    DateTime,
    Index,
    Integer,
    String,
    Text,
    Uuid,
    func,
    text,
)
from sqlalchemy.dialects.postgresql import TSVECTOR
from sqlalchemy.orm import Mapped, mapped_column

from shared.db import ModelBase, new_metadata
from shared.outbox import Outbox
from shared.subscriptions import processed_events_table

# Name first (A), then category (B), then description (C): a product whose name matches a search ranks above
# one that only mentions the words in its description. The SKU goes in with the 'simple' configuration (no
# stemming, no stop words), weighted A, so searching for an exact SKU finds its product.
SEARCH_VECTOR_SQL = (
    "setweight(to_tsvector('english'::regconfig, (name)::text), 'A'::\"char\") || "
    "setweight(to_tsvector('english'::regconfig, (coalesce(category, ''::character varying))::text), "
    "'B'::\"char\") || "
    "setweight(to_tsvector('english'::regconfig, description), 'C'::\"char\") || "
    "setweight(to_tsvector('simple'::regconfig, (sku)::text), 'A'::\"char\")"
)

SKU_MAX_LENGTH = 64
NAME_MAX_LENGTH = 200
DESCRIPTION_MAX_LENGTH = 5000
CATEGORY_MAX_LENGTH = 100
TAX_CLASS_MAX_LENGTH = 32
DEFAULT_TAX_CLASS = "standard"


class Base(ModelBase):
    __abstract__ = True
    metadata = new_metadata()


# The catalog's domain events (events.ProductEvent), written in the transaction of their change.
outbox = Outbox(Base.metadata, "products")
# The events products consumes (its own `ProductUpdated`, to invalidate its cache: `events.consumer_spec`).
processed_events = processed_events_table(Base.metadata)


class Product(Base):
    __tablename__ = "products"
    __table_args__ = (
        CheckConstraint("sku = upper(sku)", name="sku_upper_case"),
        CheckConstraint("price_amount >= 0", name="price_amount_not_negative"),
        CheckConstraint("weight_grams IS NULL OR weight_grams >= 0", name="weight_grams_not_negative"),
        # The listings (active products newest first, overall and within a category) are keyset-paginated on
        # these; partial, as listings only show active products (an admin asking for archived ones is rare).
        Index("ix_products_created_at_id", "created_at", "id", postgresql_where=text("active")),
        Index(
            "ix_products_category_created_at_id",
            "category",
            "created_at",
            "id",
            postgresql_where=text("active"),
        ),
        Index("ix_products_search_vector", "search_vector", postgresql_using="gin"),
    )

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True, server_default=func.gen_random_uuid())
    # Stored upper-case, so the unique constraint makes SKUs unique whatever case a client types.
    sku: Mapped[str] = mapped_column(String(SKU_MAX_LENGTH), unique=True)
    name: Mapped[str] = mapped_column(String(NAME_MAX_LENGTH))
    description: Mapped[str] = mapped_column(Text, server_default=text("''"))
    # Minor units of `price_currency` (cents for USD): never a float.
    price_amount: Mapped[int] = mapped_column(BigInteger)
    price_currency: Mapped[str] = mapped_column(String(3))
    category: Mapped[str] = mapped_column(String(CATEGORY_MAX_LENGTH))
    # Which of the country's tax rates applies (orders' tax table: "standard", "reduced", ...).
    tax_class: Mapped[str] = mapped_column(String(TAX_CLASS_MAX_LENGTH), server_default=text("'standard'"))
    # Shipping weight in grams; null when unknown (a cart counts it as 0).
    weight_grams: Mapped[int | None] = mapped_column(Integer)
    # Archived products leave the listings but stay readable by id: orders reference them.
    active: Mapped[bool] = mapped_column(Boolean, server_default=text("true"))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    updated_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), server_default=func.now(), onupdate=func.now()
    )
    # Computed by PostgreSQL in the statement that writes the row, so search never lags the product.
    # Deferred: only SQL reads it, Python never needs the vector itself.
    search_vector: Mapped[str] = mapped_column(
        TSVECTOR, Computed(SEARCH_VECTOR_SQL, persisted=True), deferred=True
    )
