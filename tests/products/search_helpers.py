"""Helpers of the faceted search tests: products with options and variants written straight into the products
database (the admin operations of variants are another change), availability kept as the consumer keeps it."""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from products_helpers import create
from sqlalchemy import delete, insert, update

from subgraphs.products import availability_repository
from subgraphs.products.models import Product, ProductOption, ProductVariant

SEARCH = """
query Search(
  $search: String, $category: String, $first: Int, $after: String, $filter: ProductSearchFilter,
  $sort: ProductSort, $includeArchived: Boolean! = false
) {
  products(search: $search, category: $category, first: $first, after: $after, filter: $filter, sort: $sort,
           includeArchived: $includeArchived) {
    totalCount
    edges { cursor node { id name category price { amount currency } } }
    pageInfo { hasNextPage endCursor }
  }
}
"""

FACETS = """
query Facets($search: String, $filter: ProductSearchFilter, $sort: ProductSort) {
  products(search: $search, filter: $filter, sort: $sort, first: 5) {
    totalCount
    edges { node { id } }
    facets {
      categories { value count }
      options { name values { value count } }
      inStock
      priceRanges { min { amount currency } max { amount currency } count }
    }
  }
}
"""


@dataclass
class Variant:
    options: dict[str, str] = field(default_factory=dict)
    price: int | None = None  # None: the product's
    units: int = 0
    active: bool = True
    id: uuid.UUID | None = None


async def product_with_variants(
    gql: Any,
    token: str,
    products_db: Any,
    variants: list[Variant],
    *,
    options: dict[str, list[str]] | None = None,
    **overrides: Any,
) -> dict[str, Any]:
    """A product created through the API, its single variant replaced by `variants` (the first keeps the
    product's id), with `options`; each Variant's `id` is filled in."""
    product = await create(gql, token, **overrides)
    product_id = uuid.UUID(product["id"])
    async with products_db() as session, session.begin():
        for position, (name, values) in enumerate((options or {}).items()):
            await session.execute(
                insert(ProductOption).values(
                    product_id=product_id, position=position, name=name, values=values
                )
            )
        await session.execute(delete(ProductVariant).where(ProductVariant.product_id == product_id))
        for position, variant in enumerate(variants):
            variant.id = product_id if position == 0 else uuid.uuid4()
            await session.execute(
                insert(ProductVariant).values(
                    id=variant.id,
                    product_id=product_id,
                    sku=product["sku"] if position == 0 else f"{product['sku']}-{position}",
                    price_amount=variant.price,
                    option_values=variant.options,
                    active=variant.active,
                    position=position,
                )
            )
            if variant.units:
                await availability_repository.record_availability(
                    session, variant.id, variant.units, datetime.now(UTC)
                )
    return product


async def set_product_active(products_db: Any, product_id: str, active: bool) -> None:

    async with products_db() as session, session.begin():
        await session.execute(
            update(Product).where(Product.id == uuid.UUID(product_id)).values(active=active)
        )


async def search(gql: Any, token: str | None = None, **variables: Any) -> dict[str, Any]:
    return (await gql("products", SEARCH, variables, token=token)).ok()["products"]


async def walk_search(gql: Any, first: int, **variables: Any) -> list[dict[str, Any]]:
    """Every node of a listing, page after page."""
    nodes: list[dict[str, Any]] = []
    after = None
    for _ in range(200):
        page = await search(gql, first=first, after=after, **variables)
        nodes.extend(edge["node"] for edge in page["edges"])
        if not page["pageInfo"]["hasNextPage"]:
            return nodes
        after = page["pageInfo"]["endCursor"]
    raise AssertionError("pagination never ended")
