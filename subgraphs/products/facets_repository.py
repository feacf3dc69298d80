"""SQL of the catalog's facets: counts over a listing's whole result (every page, every filter applied), one
statement (the page's own statements: search_repository.py)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import BigInteger, String, cast, func, literal, null, select, true, union_all
from sqlalchemy.ext.asyncio import AsyncSession

from subgraphs.products.models import Product, ProductVariant
from subgraphs.products.search_repository import (
    ProductFilter,
    ProductSort,
    _product_conditions,
    _requires_variant,
    _variant_conditions,
    effective_price,
)


@dataclass(frozen=True, slots=True)
class FacetRow:
    """One row of the facets statement: `kind` says which facet it counts."""

    kind: str  # "category" | "option" | "in_stock" | "price"
    name: str | None  # the category, the option's name, the price's currency
    value: str | None  # the option's value
    count: int  # products
    min: int | None  # prices: the lowest and highest matching variant price in that currency
    max: int | None


# What joins an option's name and value in `product_variants.option_tokens` (the ASCII unit separator).
TOKEN_SEPARATOR = 31


def facets_statement(filters: ProductFilter, sort: ProductSort) -> Any:
    """Every facet of the listing `filters` x `sort` in one statement: a UNION ALL of small hash aggregates
    over the matching variants (a CTE) and their per-product summary (another): the result's products by
    category, by option value of their matching variants, in stock, prices per currency. Counts count
    products, with every filter applied (not "what if this filter were off")."""
    matching = (
        select(
            ProductVariant.product_id.label("product_id"),
            Product.category.label("category"),
            Product.price_currency.label("currency"),
            ProductVariant.option_tokens.label("option_tokens"),
            effective_price().label("price"),
            ProductVariant.available_units.label("available_units"),
        )
        .join(Product, Product.id == ProductVariant.product_id)
        .where(*_product_conditions(filters), *_variant_conditions(filters))
        .cte("matching_variants")
    )
    per_product = (
        select(
            matching.c.product_id,
            matching.c.category,
            matching.c.currency,
            func.min(matching.c.price).label("low"),
            func.max(matching.c.price).label("high"),
            func.bool_or(matching.c.available_units > 0).label("stocked"),
        )
        .group_by(matching.c.product_id, matching.c.category, matching.c.currency)
        .cte("matching_products")
    )
    if _requires_variant(filters, sort):
        categories = select(per_product.c.category.label("category")).subquery("result")
    else:
        # Products without an active variant are listed too (no variant filter): count them by category.
        categories = select(Product.category.label("category")).where(*_product_conditions(filters))
        categories = categories.subquery("result")
    # Each matching variant's `name<US>value` tokens (option_tokens); a token's count is of distinct products
    # (counting distinct per token beat grouping by (product, token) first: 62 against 86 ms, 30k variants).
    token = func.unnest(matching.c.option_tokens).table_valued("token").alias("token")
    separator = func.chr(TOKEN_SEPARATOR)
    by_token = (
        select(
            func.split_part(token.c.token, separator, 1).label("key"),
            func.split_part(token.c.token, separator, 2).label("value"),
            func.count(matching.c.product_id.distinct()).label("products"),
        )
        .select_from(matching)
        .join(token, true())
        .group_by(token.c.token)
        .subquery("product_values")
    )
    no_text = cast(null(), String)
    no_int = cast(null(), BigInteger)
    return union_all(
        select(literal("category"), categories.c.category, no_text, func.count(), no_int, no_int).group_by(
            categories.c.category
        ),
        select(literal("option"), by_token.c.key, by_token.c.value, by_token.c.products, no_int, no_int),
        select(
            literal("in_stock"),
            no_text,
            no_text,
            func.count().filter(per_product.c.stocked),
            no_int,
            no_int,
        ).select_from(per_product),
        select(
            literal("price"),
            per_product.c.currency,
            no_text,
            func.count(),
            func.min(per_product.c.low),
            func.max(per_product.c.high),
        ).group_by(per_product.c.currency),
    )


async def facets(session: AsyncSession, filters: ProductFilter, sort: ProductSort) -> list[FacetRow]:
    rows = (await session.execute(facets_statement(filters, sort))).all()
    return [
        FacetRow(
            str(kind),
            name,
            value,
            int(n),
            int(low) if low is not None else None,
            int(high) if high is not None else None,
        )
        for kind, name, value, n, low, high in rows
    ]
