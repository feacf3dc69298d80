"""The catalog's tables: products (with a full-text search vector the database keeps in step with them), their
options and variants, and their media.

A product is what a shopper finds and reads (name, description, category, list price); a variant is what is
sold and stocked (its own SKU, price, weight, one value of each of the product's options). Every product has
at least one variant. A product created without variants, and every product older than variants (migration
0005), has one variant **sharing the product's id**: inventory's stock rows, orders' lines and analytics'
counts that were keyed by product id before variants existed are therefore keyed by that variant's id
unchanged, and a product id still names the variant of a single-variant product everywhere.
"""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import (
    BigInteger,
    Boolean,
    CheckConstraint,
    Computed,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    Uuid,
    func,
    text,
)
from sqlalchemy.dialects.postgresql import ARRAY, JSONB, TSVECTOR
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
OPTION_NAME_MAX_LENGTH = 50
OPTION_VALUE_MAX_LENGTH = 50
ALT_MAX_LENGTH = 500


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
        # Faceted search joins the matching variants to their products for the product's price, currency and
        # category: from this narrow index alone (an index-only scan), not the wide rows.
        Index(
            "ix_products_active_pricing",
            "id",
            postgresql_include=["price_amount", "price_currency", "category"],
            postgresql_where=text("active"),
        ),
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


class ProductOption(Base):
    """One option of a product (`Size`: S, M, L), its values in the order a shop shows them."""

    __tablename__ = "product_options"
    __table_args__ = (
        Index("uq_product_options_product_id_name", "product_id", text("lower(name)"), unique=True),
        CheckConstraint('cardinality("values") >= 1', name="has_values"),
    )

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True, server_default=func.gen_random_uuid())
    product_id: Mapped[uuid.UUID] = mapped_column(Uuid, ForeignKey("products.id", ondelete="CASCADE"))
    position: Mapped[int] = mapped_column(Integer)
    name: Mapped[str] = mapped_column(String(OPTION_NAME_MAX_LENGTH))
    values: Mapped[list[str]] = mapped_column(ARRAY(String(OPTION_VALUE_MAX_LENGTH)))


class ProductVariant(Base):
    """What is sold and stocked: a product in one value of each of its options."""

    __tablename__ = "product_variants"
    __table_args__ = (
        CheckConstraint("sku = upper(sku)", name="sku_upper_case"),
        CheckConstraint("price_amount IS NULL OR price_amount >= 0", name="price_amount_not_negative"),
        CheckConstraint("weight_grams IS NULL OR weight_grams >= 0", name="weight_grams_not_negative"),
        CheckConstraint("available_units >= 0", name="available_units_not_negative"),
        Index("ix_product_variants_product_id_position", "product_id", "position"),
        # Faceted search (search_repository.py; measured in bench/products_search.py): option filters (`@>`),
        # and "in stock" probes of a product's variants.
        Index(
            "ix_product_variants_option_values",
            "option_values",
            postgresql_using="gin",
            postgresql_ops={"option_values": "jsonb_path_ops"},
            postgresql_where=text("active"),
        ),
        Index(
            "ix_product_variants_product_id_in_stock",
            "product_id",
            postgresql_where=text("active AND available_units > 0"),
        ),
    )

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True, server_default=func.gen_random_uuid())
    product_id: Mapped[uuid.UUID] = mapped_column(Uuid, ForeignKey("products.id", ondelete="CASCADE"))
    # Stored upper-case and unique among variants (a single-variant product's variant has the product's SKU).
    sku: Mapped[str] = mapped_column(String(SKU_MAX_LENGTH), unique=True)
    # Minor units of the product's currency; null: the product's price (`products.price_amount`).
    price_amount: Mapped[int | None] = mapped_column(BigInteger)
    # Grams; null: the product's weight.
    weight_grams: Mapped[int | None] = mapped_column(Integer)
    # {option name: value}, one entry per option of the product ({} for a product without options).
    option_values: Mapped[dict[str, str]] = mapped_column(JSONB, server_default=text("'{}'::jsonb"))
    # The same values as `name<0x1F>value` strings, kept by PostgreSQL (migration 0007's `option_tokens`
    # function): what the facets count, as unnesting an array is ~5x cheaper than exploding the JSON object.
    # Deferred: only SQL reads it.
    option_tokens: Mapped[list[str]] = mapped_column(
        ARRAY(Text), Computed("option_tokens(option_values)", persisted=True), deferred=True
    )
    # Archived variants cannot be sold (inventory refuses to reserve them) but stay readable by id.
    active: Mapped[bool] = mapped_column(Boolean, server_default=text("true"))
    position: Mapped[int] = mapped_column(Integer, server_default=text("0"))
    # Units available to order as inventory last said (its `StockChanged` events, consumed by products):
    # denormalised here so one indexed query answers "in stock" in a search. Never authoritative.
    available_units: Mapped[int] = mapped_column(Integer, server_default=text("0"))
    # When inventory emitted the level kept above: an older event never overwrites a newer one.
    availability_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    updated_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), server_default=func.now(), onupdate=func.now()
    )


class ProductMedia(Base):
    """An image of a product (and optionally of one of its variants), stored by `media.Storage`."""

    __tablename__ = "product_media"
    __table_args__ = (
        Index("ix_product_media_product_id_position", "product_id", "position"),
        CheckConstraint("width > 0 AND height > 0", name="has_size"),
        CheckConstraint("byte_size > 0", name="has_bytes"),
    )

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True, server_default=func.gen_random_uuid())
    product_id: Mapped[uuid.UUID] = mapped_column(Uuid, ForeignKey("products.id", ondelete="CASCADE"))
    variant_id: Mapped[uuid.UUID | None] = mapped_column(
        Uuid, ForeignKey("product_variants.id", ondelete="SET NULL")
    )
    position: Mapped[int] = mapped_column(Integer, server_default=text("0"))
    alt: Mapped[str] = mapped_column(String(ALT_MAX_LENGTH), server_default=text("''"))
    # The type the bytes are (checked by decoding them, never by the file name): image/png, image/jpeg, ...
    content_type: Mapped[str] = mapped_column(String(50))
    width: Mapped[int] = mapped_column(Integer)
    height: Mapped[int] = mapped_column(Integer)
    byte_size: Mapped[int] = mapped_column(BigInteger)
    # SHA-256 of the original's bytes (hex): its ETag, and the storage key's stem.
    sha256: Mapped[str] = mapped_column(String(64))
    storage_key: Mapped[str] = mapped_column(String(200))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
