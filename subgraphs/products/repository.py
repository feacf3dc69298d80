"""SQL for the catalog's tables, nothing else: rules live in service.py (listings and search:
search_repository.py)."""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import (
    Select,
    any_,
    bindparam,
    delete,
    func,
    select,
)
from sqlalchemy import update as sql_update
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.ext.asyncio import AsyncSession

from shared.db import any_of
from subgraphs.products.models import Product, ProductOption, ProductVariant


async def get_many(session: AsyncSession, ids: Sequence[uuid.UUID]) -> list[Product]:
    """Every product among `ids` in one statement (one array parameter, whatever the number of ids)."""
    if not ids:
        return []
    statement = select(Product).where(any_of(Product.id, "ids", ids))
    return list((await session.scalars(statement)).all())


async def get_for_update(session: AsyncSession, product_id: uuid.UUID) -> Product | None:
    """One product, its row locked until the transaction ends: concurrent changes of it (and their events)
    follow one another in commit order."""
    statement = (
        select(Product)
        .where(Product.id == product_id)
        .with_for_update()
        .execution_options(populate_existing=True)
    )
    return (await session.scalars(statement)).one_or_none()


async def category_counts(session: AsyncSession) -> list[tuple[str, int]]:
    """Every category with at least one active product, and how many it has, by name."""
    statement = (
        select(Product.category, func.count())
        .where(Product.active)
        .group_by(Product.category)
        .order_by(Product.category)
    )
    return [(name, int(n)) for name, n in (await session.execute(statement)).all()]


async def insert(session: AsyncSession, values: Mapping[str, Any]) -> Product:
    """Insert one product; a duplicate SKU raises IntegrityError (uq_products_sku)."""
    statement = pg_insert(Product).values(**values).returning(Product)
    return (await session.scalars(statement)).one()


async def update(session: AsyncSession, product_id: uuid.UUID, changes: Mapping[str, Any]) -> Product | None:
    """Apply `changes` (and a new updated_at) to one product; None when it does not exist."""
    statement = (
        sql_update(Product)
        .where(Product.id == product_id)
        .values(**changes, updated_at=func.now())
        .returning(Product)
        .execution_options(populate_existing=True, synchronize_session=False)
    )
    return (await session.scalars(statement)).one_or_none()


async def insert_many_skipping_existing(session: AsyncSession, rows: Iterable[Mapping[str, Any]]) -> int:
    """Products sold as one thing (the demo's generated catalog): `insert_products_skipping_existing`, and
    each new product's one variant (sharing its id and SKU); how many products were new."""
    inserted = await insert_products_skipping_existing(session, list(rows))
    await insert_variants(session, [single_variant_values(pid, sku) for pid, sku in inserted])
    return len(inserted)


# --- variants and options ----------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class VariantRecord:
    """A variant as reads see it: its own values, the product's where it inherits them (price, weight)."""

    id: uuid.UUID
    product_id: uuid.UUID
    sku: str
    price_amount: int  # its own, else the product's
    price_currency: str  # the product's: one currency per product
    weight_grams: int | None  # its own, else the product's
    option_values: dict[str, str]
    active: bool  # the variant's own flag
    product_active: bool
    position: int
    available_units: int
    created_at: datetime
    updated_at: datetime
    own_price_amount: int | None  # the variant's own columns: null where it inherits the product's
    own_weight_grams: int | None

    @property
    def sellable(self) -> bool:
        return self.active and self.product_active

    @property
    def has_own_price(self) -> bool:
        return self.own_price_amount is not None


def single_variant_values(product_id: uuid.UUID, sku: str) -> dict[str, Any]:
    """The one variant of a product created without variants: its id and SKU are the product's, its price and
    weight inherited (null)."""
    return {"id": product_id, "product_id": product_id, "sku": sku, "position": 0}


async def insert_variants(session: AsyncSession, rows: Sequence[Mapping[str, Any]]) -> list[uuid.UUID]:
    """Insert variants; a duplicate SKU raises IntegrityError (uq_product_variants_sku)."""
    if not rows:
        return []
    statement = pg_insert(ProductVariant).values(list(rows)).returning(ProductVariant.id)
    return list((await session.scalars(statement)).all())


def _variant_columns() -> tuple[Any, ...]:
    return (
        ProductVariant.id,
        ProductVariant.product_id,
        ProductVariant.sku,
        func.coalesce(ProductVariant.price_amount, Product.price_amount),
        Product.price_currency,
        func.coalesce(ProductVariant.weight_grams, Product.weight_grams),
        ProductVariant.option_values,
        ProductVariant.active,
        Product.active,
        ProductVariant.position,
        ProductVariant.available_units,
        ProductVariant.created_at,
        ProductVariant.updated_at,
        ProductVariant.price_amount,
        ProductVariant.weight_grams,
    )


def _variant_select() -> Select[Any]:
    return select(*_variant_columns()).join(Product, Product.id == ProductVariant.product_id)


# The two reads of variants by a list of ids, built once (the ids bound at execution): the catalog read of
# every order asks for one of them.
_VARIANTS_BY_ID = _variant_select().where(any_of(ProductVariant.id, "ids"))
_VARIANTS_OF_PRODUCTS = (
    _variant_select()
    .where(any_of(ProductVariant.product_id, "ids"))
    .order_by(ProductVariant.product_id, ProductVariant.position, ProductVariant.created_at)
)


async def variants_by_id(session: AsyncSession, ids: Sequence[uuid.UUID]) -> list[VariantRecord]:
    if not ids:
        return []
    return [VariantRecord(*row) for row in (await session.execute(_VARIANTS_BY_ID, {"ids": list(ids)})).all()]


async def variants_of_products(
    session: AsyncSession, product_ids: Sequence[uuid.UUID]
) -> list[VariantRecord]:
    """Every variant (archived ones too) of the products, in each product's order (position, then age)."""
    if not product_ids:
        return []
    rows = (await session.execute(_VARIANTS_OF_PRODUCTS, {"ids": list(product_ids)})).all()
    return [VariantRecord(*row) for row in rows]


async def options_of_products(session: AsyncSession, product_ids: Sequence[uuid.UUID]) -> list[ProductOption]:
    if not product_ids:
        return []
    statement = (
        select(ProductOption)
        .where(any_of(ProductOption.product_id, "ids", product_ids))
        .order_by(ProductOption.product_id, ProductOption.position)
    )
    return list((await session.scalars(statement)).all())


async def lock_skus(session: AsyncSession, skus: Iterable[str]) -> None:
    """Serialise, until the transaction ends, every writer of these SKUs: a SKU is unique across products and
    variants together, which no one constraint says, so the check (`skus_taken`) and the insert happen under a
    transaction-scoped advisory lock per SKU (taken in sorted order: two writers never wait on each other)."""
    for sku in sorted(set(skus)):
        await session.execute(select(func.pg_advisory_xact_lock(func.hashtextextended(f"sku:{sku}", 0))))


async def skus_taken(
    session: AsyncSession,
    skus: Sequence[str],
    *,
    product_id: uuid.UUID,
    variant_id: uuid.UUID | None = None,
) -> set[str]:
    """Which of `skus` another product or another variant already has. A product's own SKU stays free for its
    variants (a single-variant product's variant carries it), and a variant's own SKU for itself."""
    if not skus:
        return set()
    wanted = bindparam("skus", list(skus), type_=ARRAY(Product.sku.type))
    products = select(Product.sku).where(Product.sku == any_(wanted), Product.id != product_id)
    variants = select(ProductVariant.sku).where(ProductVariant.sku == any_(wanted))
    if variant_id is not None:
        variants = variants.where(ProductVariant.id != variant_id)
    return set((await session.scalars(products.union(variants))).all())


async def replace_options(
    session: AsyncSession, product_id: uuid.UUID, options: Sequence[tuple[str, Sequence[str]]]
) -> list[ProductOption]:
    """The product's options become `options` ((name, values), in order); returns the new rows."""
    await session.execute(delete(ProductOption).where(ProductOption.product_id == product_id))
    if not options:
        return []
    rows = [
        {"product_id": product_id, "position": position, "name": name, "values": list(values)}
        for position, (name, values) in enumerate(options)
    ]
    statement = pg_insert(ProductOption).values(rows).returning(ProductOption)
    return list((await session.scalars(statement, execution_options={"populate_existing": True})).all())


async def update_variant(session: AsyncSession, variant_id: uuid.UUID, changes: Mapping[str, Any]) -> None:
    """Apply `changes` (and a new updated_at) to one variant."""
    await session.execute(
        sql_update(ProductVariant)
        .where(ProductVariant.id == variant_id)
        .values(**changes, updated_at=func.now())
        .execution_options(synchronize_session=False)
    )


async def set_option_values(session: AsyncSession, option_values: Mapping[uuid.UUID, dict[str, str]]) -> None:
    """Give each variant its new option values: one executemany, whatever the number of variants."""
    if not option_values:
        return
    table = ProductVariant.__table__
    statement = (
        table.update()
        .where(table.c.id == bindparam("variant_id"))
        .values(option_values=bindparam("new_values"), updated_at=func.now())
    )
    await session.execute(
        statement, [{"variant_id": vid, "new_values": values} for vid, values in option_values.items()]
    )


async def insert_products_skipping_existing(
    session: AsyncSession, rows: Sequence[Mapping[str, Any]]
) -> list[tuple[uuid.UUID, str]]:
    """One multi-row INSERT ... ON CONFLICT (sku) DO NOTHING of products whose variants the caller inserts;
    the (id, SKU) of the products that were new."""
    if not rows:
        return []
    statement = (
        pg_insert(Product)
        .values(list(rows))
        .on_conflict_do_nothing(index_elements=[Product.sku])
        .returning(Product.id, Product.sku)
    )
    return [(product_id, sku) for product_id, sku in (await session.execute(statement)).all()]
