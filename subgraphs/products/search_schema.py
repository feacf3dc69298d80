"""GraphQL types of the catalog's faceted search: `products(filter:, sort:)` and `ProductConnection.facets`.
Thin: they carry input to `search.py` and its results back."""

from __future__ import annotations

import enum

import strawberry

from shared.graphql_types import Money
from subgraphs.products import search
from subgraphs.products.search_repository import ProductSort as SortOrder


@strawberry.enum(description="The order of a listing.")
class ProductSort(enum.Enum):
    RELEVANCE = strawberry.enum_value(
        SortOrder.RELEVANCE, description="Best full-text match first (needs `search`; its default)."
    )
    NEWEST = strawberry.enum_value(
        SortOrder.NEWEST, description="Newest first (the default without `search`)."
    )
    PRICE_ASC = strawberry.enum_value(
        SortOrder.PRICE_ASC,
        description="Cheapest first: a product's price is the lowest among its variants matching the filter.",
    )
    PRICE_DESC = strawberry.enum_value(SortOrder.PRICE_DESC, description="Dearest first (same price).")


@strawberry.input(description="A price range in minor units, both ends included; either end may be open.")
class ProductPriceFilter:
    min: int | None = None
    max: int | None = None
    currency: str | None = strawberry.field(
        default=None,
        description="Only products priced in this currency; without it, amounts compare in each product's "
        "own currency.",
    )


@strawberry.input(description="Variants whose value of the option `name` (exact) is one of `values`.")
class ProductOptionFilter:
    name: str
    values: list[str] = strawberry.field(description="1 to 20 values.")


@strawberry.input(
    description="What a listed product has. `price`, `inStock` and `options` hold for ONE of its active "
    "variants together (a red shirt in stock, not a red one and another in stock); archived variants never "
    "match. With any of them, or a price sort, a product without an active variant is not listed."
)
class ProductSearchFilter:
    categories: list[str] | None = strawberry.field(
        default=None, description="Any of these categories (up to 20); empty: any."
    )
    price: ProductPriceFilter | None = None
    in_stock: bool | None = strawberry.field(
        default=None,
        description="true: a variant with units available (as inventory last said: it lags by well under a "
        "second); false: a variant without.",
    )
    options: list[ProductOptionFilter] | None = strawberry.field(
        default=None, description="Up to 10 options, each matched (AND); values of one option are OR."
    )

    def to_input(self) -> search.SearchFilterInput:
        return search.SearchFilterInput(
            categories=self.categories,
            price=(
                search.PriceFilterInput(self.price.min, self.price.max, self.price.currency)
                if self.price is not None
                else None
            ),
            in_stock=self.in_stock,
            options=(
                [search.OptionFilterInput(o.name, o.values) for o in self.options]
                if self.options is not None
                else None
            ),
        )


@strawberry.type(description="How many products of the result have a value.")
class FacetCount:
    value: str
    count: int


@strawberry.type(description="An option's values among the result's matching variants.")
class OptionFacet:
    name: str
    values: list[FacetCount] = strawberry.field(description="Most products first; at most 50.")


@strawberry.type(description="The prices of the result's matching variants in one currency.")
class PriceFacet:
    min: Money
    max: Money
    count: int = strawberry.field(description="Products priced in this currency.")


@strawberry.type(
    description="Counts over the whole result (every page) with every filter applied, of PRODUCTS (a product "
    "with two red variants counts once under red)."
)
class ProductFacets:
    categories: list[FacetCount] = strawberry.field(description="Most products first; at most 50.")
    options: list[OptionFacet] = strawberry.field(description="By name; at most 20.")
    in_stock: int = strawberry.field(description="Products with a matching variant available.")
    price_ranges: list[PriceFacet] = strawberry.field(
        description="Lowest and highest matching variant price, per currency (one for a one-currency shop)."
    )

    @classmethod
    def of(cls, facets: search.Facets) -> ProductFacets:
        return cls(
            categories=[FacetCount(value=c.value, count=c.count) for c in facets.categories],
            options=[
                OptionFacet(name=o.name, values=[FacetCount(value=v.value, count=v.count) for v in o.values])
                for o in facets.options
            ],
            in_stock=facets.in_stock,
            price_ranges=[
                PriceFacet(
                    min=Money(amount=p.min, currency=p.currency),
                    max=Money(amount=p.max, currency=p.currency),
                    count=p.count,
                )
                for p in facets.prices
            ],
        )
