"""SQL of the catalog's listings and faceted search.

One statement answers a page (its total riding along when asked), one more the facets when asked. A product
matches the variant-level filters (price, in stock, option values) when ONE of its active variants matches all
of them together; the price a product sorts by is the lowest effective price among those variants.
"""

from __future__ import annotations

import enum
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, NamedTuple

from sqlalchemy import (
    REAL,
    BigInteger,
    ColumnElement,
    Float,
    Select,
    and_,
    bindparam,
    cast,
    func,
    literal,
    literal_column,
    null,
    or_,
    select,
    tuple_,
)
from sqlalchemy.engine import Row
from sqlalchemy.ext.asyncio import AsyncSession

from shared.db import PreparedRead
from subgraphs.products.cache import ProductRecord
from subgraphs.products.models import Product, ProductVariant

# The text search configuration of the queries: the one the search vector's name/category/description use.
_ENGLISH = literal_column("'english'::regconfig")


class ProductSort(enum.StrEnum):
    """The orders of a listing; the value names the order in its cursors."""

    RELEVANCE = "relevance"
    NEWEST = "newest"
    PRICE_ASC = "price_asc"
    PRICE_DESC = "price_desc"


PRICE_SORTS = frozenset({ProductSort.PRICE_ASC, ProductSort.PRICE_DESC})


@dataclass(frozen=True, slots=True)
class OptionMatch:
    """A variant matches when its value of option `name` is one of `values` (exact, case included)."""

    name: str
    values: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class ProductFilter:
    search: str | None = None
    category: str | None = None
    include_archived: bool = False
    # Any of these categories (with `category` too: both apply).
    categories: tuple[str, ...] = ()
    # Minor units, inclusive, on a variant's effective price (its own, else the product's).
    price_min: int | None = None
    price_max: int | None = None
    # The product's currency; without it amounts compare in each product's own currency.
    currency: str | None = None
    in_stock: bool | None = None
    options: tuple[OptionMatch, ...] = field(default=())

    @property
    def on_variants(self) -> bool:
        """Whether a product needs a matching active variant to be listed."""
        return (
            self.price_min is not None
            or self.price_max is not None
            or self.in_stock is not None
            or bool(self.options)
        )


# What a page shows of a product, in ProductRecord's order: plain rows, not ORM entities (nothing of a listing
# needs the identity map; building an entity costs ~8 times a record). Selected by their ORM attributes, so
# the session still flushes pending changes before a listing reads.
LISTED_COLUMNS = (
    Product.id,
    Product.sku,
    Product.name,
    Product.description,
    Product.price_amount,
    Product.price_currency,
    Product.category,
    Product.active,
    Product.created_at,
    Product.updated_at,
    Product.tax_class,
    Product.weight_grams,
)
_LISTED = len(LISTED_COLUMNS)
# The same for a listing that shows no product's dates (`dated=False`): they read as nulls. asyncpg decodes a
# timestamptz in about 5,000 instructions, half of a listed row's decoding (a tenth of a search request).
_UNDATED_COLUMNS = tuple(
    null().label(column.key) if column.key in ("created_at", "updated_at") else column
    for column in LISTED_COLUMNS
)


def _listed(dated: bool) -> tuple[Any, ...]:
    return LISTED_COLUMNS if dated else _UNDATED_COLUMNS


def _record(row: Any) -> ProductRecord:
    return ProductRecord(*row[:_LISTED])


class RankedProduct(NamedTuple):  # one per row of a page: built in a third of a frozen dataclass's time
    product: ProductRecord
    # ts_rank as PostgreSQL computed it (a `real`) in a search by relevance; else None.
    rank: float | None = None
    # The lowest price among its matching variants, in a price sort; else None.
    price: int | None = None


@dataclass(frozen=True, slots=True)
class ProductPage:
    items: list[RankedProduct]
    total: int | None


def _ts_query(search: str | ColumnElement[str]) -> ColumnElement[Any]:
    return func.websearch_to_tsquery(_ENGLISH, search)


def effective_price() -> ColumnElement[int]:
    """A variant's price: its own, else its product's (the statement joins both)."""
    return func.coalesce(ProductVariant.price_amount, Product.price_amount)


def _product_conditions(filters: ProductFilter) -> list[ColumnElement[bool]]:
    conditions: list[ColumnElement[bool]] = []
    if not filters.include_archived:
        conditions.append(Product.active)
    # Named parameters (`_filter_values` names the same): a page statement is built once per shape of filter.
    if filters.category is not None:
        conditions.append(Product.category == bindparam("category", filters.category))
    if filters.categories:
        conditions.append(Product.category.in_(bindparam("categories", filters.categories, expanding=True)))
    if filters.currency is not None:
        conditions.append(Product.price_currency == bindparam("currency", filters.currency))
    if filters.search is not None:
        conditions.append(Product.search_vector.bool_op("@@")(_ts_query(bindparam("search", filters.search))))
    return conditions


def _variant_conditions(filters: ProductFilter) -> list[ColumnElement[bool]]:
    """What a matching variant is (the statement joins its product): archived variants never match, not even
    for an admin listing archived products."""
    conditions: list[ColumnElement[bool]] = [ProductVariant.active]
    price = effective_price()
    if filters.price_min is not None:
        conditions.append(price >= bindparam("price_min", filters.price_min, type_=BigInteger))
    if filters.price_max is not None:
        conditions.append(price <= bindparam("price_max", filters.price_max, type_=BigInteger))
    if filters.in_stock is True:
        conditions.append(ProductVariant.available_units > 0)
    elif filters.in_stock is False:
        conditions.append(ProductVariant.available_units == 0)
    for option in filters.options:
        # `@>` on the variant's {name: value}: what the GIN index (jsonb_path_ops) answers.
        alternatives = [
            ProductVariant.option_values.contains({option.name: value}) for value in option.values
        ]
        conditions.append(or_(*alternatives) if len(alternatives) > 1 else alternatives[0])
    return conditions


def _requires_variant(filters: ProductFilter, sort: ProductSort) -> bool:
    # A product without an active variant has no price: price sorts leave it out, like variant filters.
    return filters.on_variants or sort in PRICE_SORTS


def _matching_variant_exists(filters: ProductFilter) -> ColumnElement[bool]:
    return (
        select(literal(1))
        .where(ProductVariant.product_id == Product.id, *_variant_conditions(filters))
        .exists()
    )


def _conditions(filters: ProductFilter, sort: ProductSort) -> list[ColumnElement[bool]]:
    conditions = _product_conditions(filters)
    if _requires_variant(filters, sort):
        conditions.append(_matching_variant_exists(filters))
    return conditions


def count_statement(filters: ProductFilter, sort: ProductSort = ProductSort.NEWEST) -> Select[tuple[int]]:
    return select(func.count()).select_from(Product).where(*_conditions(filters, sort))


def _total_column(filters: ProductFilter, sort: ProductSort, wanted: bool) -> list[Any]:
    # An uncorrelated scalar subquery: PostgreSQL runs it once (an InitPlan), whatever the page size.
    if not wanted:
        return []
    return [count_statement(filters, sort).correlate(None).scalar_subquery().label("total_count")]


def search_page_statement(
    filters: ProductFilter,
    *,
    after: tuple[float, uuid.UUID] | None,
    limit: int,
    with_total: bool = False,
    dated: bool = True,
) -> Select[Any]:
    """Matches of `filters.search`, most relevant first (ties by id), after the keyset `after`.

    Rows are (product's LISTED_COLUMNS, rank[, total]): the total, when asked, rides along in the same round
    trip. Not `dated`: created_at and updated_at are nulls.
    """
    assert filters.search is not None
    sort = ProductSort.RELEVANCE
    rank = func.ts_rank(Product.search_vector, _ts_query(bindparam("search", filters.search)))
    statement = select(*_listed(dated), rank, *_total_column(filters, sort, with_total)).where(
        *_conditions(filters, sort)
    )
    if after is not None:
        # The bound rank is compared as a `real`, exactly the type ts_rank returns, so equal ranks stay equal.
        after_rank = cast(bindparam("after_rank", after[0], type_=Float), REAL)
        after_id = bindparam("after_id", after[1])
        statement = statement.where(or_(rank < after_rank, and_(rank == after_rank, Product.id > after_id)))
    return statement.order_by(rank.desc(), Product.id.asc()).limit(_limit(limit))


def newest_page_statement(
    filters: ProductFilter, *, after: tuple[datetime, uuid.UUID] | None, limit: int, with_total: bool = False
) -> Select[Any]:
    """Products newest first (ties by id, descending), after the keyset `after`. Rows: (product's
    LISTED_COLUMNS[, total])."""
    sort = ProductSort.NEWEST
    statement = select(*LISTED_COLUMNS, *_total_column(filters, sort, with_total)).where(
        *_conditions(filters, sort)
    )
    if after is not None:
        statement = statement.where(
            or_(
                Product.created_at < bindparam("after_created_at", after[0]),
                and_(
                    Product.created_at == bindparam("after_created_at", after[0]),
                    Product.id < bindparam("after_id", after[1]),
                ),
            )
        )
    return statement.order_by(Product.created_at.desc(), Product.id.desc()).limit(_limit(limit))


def price_page_statement(
    filters: ProductFilter,
    *,
    descending: bool,
    after: tuple[int, uuid.UUID] | None,
    limit: int,
    with_total: bool = False,
    dated: bool = True,
) -> Select[Any]:
    """Products by the lowest price among their matching variants (ascending: ties by id ascending;
    descending: both descending), after the keyset `after`. Rows: (product's LISTED_COLUMNS, price[, total]);
    not `dated`, created_at and updated_at are nulls.

    A product's price depends on which of its variants match, so no index holds the order: the matching
    variants are aggregated to (product id, price) on narrow rows (variants by their indexes, products by
    `ix_products_active_pricing` alone), the page is cut from that, and only the page's products are read
    whole. The total counts the same aggregate (a CTE, computed once).
    """
    price = func.min(effective_price())
    matching = (
        select(ProductVariant.product_id.label("product_id"), price.label("price"))
        .join(Product, Product.id == ProductVariant.product_id)
        .where(*_product_conditions(filters), *_variant_conditions(filters))
        .group_by(ProductVariant.product_id)
        .cte("matching_products")
    )
    position = tuple_(matching.c.price, matching.c.product_id)
    page = select(matching.c.product_id, matching.c.price)
    if after is not None:
        bound = tuple_(bindparam("after_price", after[0], type_=BigInteger), bindparam("after_id", after[1]))
        page = page.where(position < bound if descending else position > bound)
    if descending:
        order = [matching.c.price.desc(), matching.c.product_id.desc()]
    else:
        order = [matching.c.price.asc(), matching.c.product_id.asc()]
    cut = page.order_by(*order).limit(_limit(limit)).subquery("page")
    total = []
    if with_total:
        total = [select(func.count()).select_from(matching).scalar_subquery().label("total_count")]
    statement = select(*_listed(dated), cut.c.price, *total).join(cut, cut.c.product_id == Product.id)
    if descending:
        return statement.order_by(cut.c.price.desc(), cut.c.product_id.desc())
    return statement.order_by(cut.c.price.asc(), cut.c.product_id.asc())


# --- page statements, built once per shape ------------------------------------------------------------------
# Building a page statement and its cache key cost about as much as the rest of a search request's Python (a
# profile of bench/products_search.py): a statement is built once per shape of listing (which filters, which
# keyset, whether the total rides along), with named parameters, and run with each request's values
# (`_filter_values` names every one that varies). Listings with option filters (up to 10 options of 20 values:
# too many shapes to keep) are built per request. A kept statement runs on the driver in a query
# (`shared.db.PreparedRead`).
_TEMPLATES: dict[tuple[Any, ...], PreparedRead] = {}


def _limit(limit: int) -> Any:
    return bindparam("page_limit", limit, type_=BigInteger)


def _filter_shape(filters: ProductFilter) -> tuple[Any, ...] | None:
    if filters.options:
        return None
    return (
        filters.search is not None,
        filters.category is not None,
        filters.include_archived,
        bool(filters.categories),
        filters.currency is not None,
        filters.price_min is not None,
        filters.price_max is not None,
        filters.in_stock,
    )


def _filter_values(filters: ProductFilter, limit: int) -> dict[str, Any]:
    values: dict[str, Any] = {"page_limit": limit}
    for name in ("search", "category", "currency", "price_min", "price_max"):
        value = getattr(filters, name)
        if value is not None:
            values[name] = value
    if filters.categories:
        values["categories"] = filters.categories
    return values


def _template(shape: tuple[Any, ...], build: Callable[[], Select[Any]]) -> PreparedRead | None:
    """The statement of `shape`, built by `build` (with this request's values) the first time; None for a
    shape not kept (option filters)."""
    if shape[1] is None:
        return None
    statement = _TEMPLATES.get(shape)
    if statement is None:
        statement = _TEMPLATES[shape] = PreparedRead(build())
    return statement


async def search_page(
    session: AsyncSession,
    filters: ProductFilter,
    *,
    after: tuple[float, uuid.UUID] | None,
    limit: int,
    with_total: bool = False,
    dated: bool = True,
) -> ProductPage:
    """Not `dated`: its products' created_at and updated_at are None (a listing that does not show them)."""
    return await _page(
        session,
        filters,
        ("search", after is not None, with_total, dated),
        lambda: search_page_statement(filters, after=after, limit=limit, with_total=with_total, dated=dated),
        limit=limit,
        after={"after_rank": after[0], "after_id": after[1]} if after is not None else {},
        item=lambda row: RankedProduct(_record(row), rank=float(row[_LISTED])),
        sort=ProductSort.RELEVANCE,
        total_column=_LISTED + 1 if with_total else None,
    )


async def newest_page(
    session: AsyncSession,
    filters: ProductFilter,
    *,
    after: tuple[datetime, uuid.UUID] | None,
    limit: int,
    with_total: bool = False,
) -> ProductPage:
    return await _page(
        session,
        filters,
        ("newest", after is not None, with_total),
        lambda: newest_page_statement(filters, after=after, limit=limit, with_total=with_total),
        limit=limit,
        after={"after_created_at": after[0], "after_id": after[1]} if after is not None else {},
        item=lambda row: RankedProduct(_record(row)),
        sort=ProductSort.NEWEST,
        total_column=_LISTED if with_total else None,
    )


async def price_page(
    session: AsyncSession,
    filters: ProductFilter,
    *,
    descending: bool,
    after: tuple[int, uuid.UUID] | None,
    limit: int,
    with_total: bool = False,
    dated: bool = True,
) -> ProductPage:
    """Not `dated`: its products' created_at and updated_at are None (a listing that does not show them)."""
    return await _page(
        session,
        filters,
        ("price", descending, after is not None, with_total, dated),
        lambda: price_page_statement(
            filters, descending=descending, after=after, limit=limit, with_total=with_total, dated=dated
        ),
        limit=limit,
        after={"after_price": after[0], "after_id": after[1]} if after is not None else {},
        item=lambda row: RankedProduct(_record(row), price=int(row[_LISTED])),
        sort=ProductSort.PRICE_DESC if descending else ProductSort.PRICE_ASC,
        total_column=_LISTED + 1 if with_total else None,
    )


async def _page(
    session: AsyncSession,
    filters: ProductFilter,
    kind: tuple[Any, ...],
    build: Callable[[], Select[Any]],
    *,
    limit: int,
    after: dict[str, Any],
    item: Callable[[Row[Any]], RankedProduct],
    sort: ProductSort,
    total_column: int | None,
) -> ProductPage:
    """A page of one sort: its statement (`build`, kept per `kind` and shape of filter), this request's
    values, its items, and the total the first row carries (at `total_column`, when asked)."""
    values = _filter_values(filters, limit) | after
    prepared = _template((kind[0], _filter_shape(filters), *kind[1:]), build)
    rows = (
        (await session.execute(build(), values)).all()
        if prepared is None
        else await prepared.rows(session, values)
    )
    items = [item(row) for row in rows]
    totals = [row[total_column] for row in rows[:1]] if total_column is not None else None
    return await _with_total(session, filters, sort, items, totals, first_page=not after)


async def _with_total(
    session: AsyncSession,
    filters: ProductFilter,
    sort: ProductSort,
    items: list[RankedProduct],
    totals: list[int] | None,
    *,
    first_page: bool,
) -> ProductPage:
    if totals is None:
        return ProductPage(items, None)
    if totals:
        return ProductPage(items, int(totals[0]))
    # An empty page brings no total along. The first: no match (a count could see a product come into stock
    # after the page's statement: `totalCount: 1`, no edges); past the end, ask.
    return ProductPage(items, 0 if first_page else await count(session, filters, sort))


async def count(session: AsyncSession, filters: ProductFilter, sort: ProductSort = ProductSort.NEWEST) -> int:
    return int(await session.scalar(count_statement(filters, sort)) or 0)
