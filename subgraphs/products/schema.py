"""The products subgraph's GraphQL schema: thin resolvers that parse input, call the service, map results."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated, Any

import strawberry
from strawberry.federation.schema_directives import Cost, ListSize
from strawberry.types import Info

from shared.auth.permissions import IsAdmin, guarded
from shared.graphql import build_schema
from shared.graphql_types import Money, MoneyInput
from shared.pagination import Connection, connection
from shared.selections import selects
from subgraphs.products import models
from subgraphs.products.cache import ProductRecord
from subgraphs.products.media_schema import PRODUCT_MEDIA, VARIANT_MEDIA, MediaMutations
from subgraphs.products.repository import VariantRecord
from subgraphs.products.search import CatalogSearch, Listing
from subgraphs.products.search_repository import RankedProduct
from subgraphs.products.search_schema import ProductFacets, ProductSearchFilter, ProductSort
from subgraphs.products.service import ProductService
from subgraphs.products.variants import VariantService


@strawberry.federation.type(keys=["id"], description="A product of the catalog.")
class Product:
    id: strawberry.ID
    sku: str = strawberry.field(
        description="The product's own stock keeping unit, unique, upper case. What is sold and stocked is a "
        "variant (`variants { sku }`); a product without options has one, with this SKU."
    )
    name: str
    description: str
    price: Money = strawberry.field(
        description="The list price: what its variants without a price of their own sell at. A listing of "
        "products with variants wants `priceRange` (`from $20`)."
    )
    category: str
    tax_class: str = strawberry.field(
        description="Which of the shipping country's tax rates applies (`standard`, `reduced`, ...): orders' "
        "tax table; a country without a rate for the class taxes it at 0."
    )
    weight: int | None = strawberry.field(description="Shipping weight in grams; null when unknown.")
    active: bool = strawberry.field(description="False once archived: out of listings, still readable by id.")
    created_at: datetime
    updated_at: datetime

    @classmethod
    def from_row(cls, row: models.Product | ProductRecord) -> Product:
        return cls(
            id=strawberry.ID(str(row.id)),
            sku=row.sku,
            name=row.name,
            description=row.description,
            price=Money(amount=row.price_amount, currency=row.price_currency),
            category=row.category,
            tax_class=row.tax_class,
            weight=row.weight_grams,
            active=row.active,
            created_at=row.created_at,
            updated_at=row.updated_at,
        )

    @classmethod
    async def resolve_reference(cls, info: Info, id: strawberry.ID) -> Product | None:
        return _optional(await ProductService(info.context).get_product(id))

    @classmethod
    async def resolve_references(
        cls, info: Info, representations: list[dict[str, Any]]
    ) -> list[Product | None]:
        """Every reference of an `_entities` at once (shared.graphql `Schema.entities_resolver`)."""
        ids = [str(representation["id"]) for representation in representations]
        return [_optional(row) for row in await info.context.loaders.product.load_many(ids)]

    @strawberry.field(
        description="Its options (`Size`: S, M, L), in the order a shop shows them; empty for a product sold "
        "as one thing.",
        directives=[ListSize(assumed_size=3)],
    )
    async def options(self, info: Info) -> list[ProductOption]:
        rows = await info.context.loaders.options.load(uuid.UUID(self.id))
        return [ProductOption(name=row.name, values=list(row.values)) for row in rows]

    @strawberry.field(
        description="What is sold: one variant per combination of option values offered, in the shop's "
        "order. A product without options has one variant, sharing the product's id and SKU. Archived "
        "variants only with `includeArchived`.",
        directives=[ListSize(assumed_size=10)],
    )
    async def variants(self, info: Info, include_archived: bool = False) -> list[ProductVariant]:
        records = await info.context.loaders.variants.load(uuid.UUID(self.id))
        return [ProductVariant.from_record(r) for r in records if include_archived or r.active]

    @strawberry.field(
        description="The lowest and highest price of its active variants (what a listing shows: `from $20`); "
        "null when none is active. `price` is the product's list price, which variants without a price of "
        "their own sell at."
    )
    async def price_range(self, info: Info) -> PriceRange | None:
        records = [r for r in await info.context.loaders.variants.load(uuid.UUID(self.id)) if r.active]
        if not records:
            return None
        amounts = [r.price_amount for r in records]
        currency = records[0].price_currency
        return PriceRange(
            min=Money(amount=min(amounts), currency=currency),
            max=Money(amount=max(amounts), currency=currency),
        )

    # Images (media_schema.py).
    media = PRODUCT_MEDIA


@strawberry.type(description="An option of a product and the values it is offered in.")
class ProductOption:
    name: str
    values: list[str]


@strawberry.type(description="The value a variant has for one option of its product.")
class SelectedOption:
    name: str = strawberry.field(description="The option's name (`Size`).")
    value: str = strawberry.field(description="The variant's value of it (`M`).")


@strawberry.type(description="The lowest and highest price of a product's active variants.")
class PriceRange:
    min: Money
    max: Money


@strawberry.federation.type(
    keys=["id"],
    description="What is sold and stocked: a product in one value of each of its options, with its own SKU.",
)
class ProductVariant:
    id: strawberry.ID
    sku: str = strawberry.field(description="Stock keeping unit, unique, upper case.")
    price: Money = strawberry.field(description="Its own price, else the product's list price.")
    weight: int | None = strawberry.field(
        description="Grams: its own, else the product's; null when unknown."
    )
    active: bool = strawberry.field(
        description="False once archived: it cannot be ordered (nor can any variant of an archived product)."
    )
    position: int = strawberry.field(description="Its place among the product's variants.")
    product_id: strawberry.Private[uuid.UUID]
    option_values: strawberry.Private[dict[str, str]]

    @strawberry.field(
        description="Its value of each of the product's options, in the product's option order.",
        directives=[ListSize(assumed_size=3)],
    )
    async def selected_options(self, info: Info) -> list[SelectedOption]:
        if len(self.option_values) < 2:  # no order to give (a product sold as one thing has none): no read
            return [SelectedOption(name=name, value=value) for name, value in self.option_values.items()]
        # Stored as a JSON object (which keeps no order): the product's options give the order.
        options = await info.context.loaders.options.load(self.product_id)
        order = {option.name: index for index, option in enumerate(options)}
        named = sorted(self.option_values.items(), key=lambda item: order.get(item[0], len(order)))
        return [SelectedOption(name=name, value=value) for name, value in named]

    @strawberry.field(description="The product it is a variant of.")
    async def product(self, info: Info) -> Product:
        row = await ProductService(info.context).get_product(self.product_id)
        assert row is not None  # a variant's product is never deleted (foreign key)
        return Product.from_row(row)

    # Images (media_schema.py).
    media = VARIANT_MEDIA

    @classmethod
    def from_record(cls, record: VariantRecord) -> ProductVariant:
        return cls(
            id=strawberry.ID(str(record.id)),
            sku=record.sku,
            price=Money(amount=record.price_amount, currency=record.price_currency),
            weight=record.weight_grams,
            option_values=record.option_values,
            active=record.active,
            position=record.position,
            product_id=record.product_id,
        )

    @classmethod
    async def resolve_reference(cls, info: Info, id: strawberry.ID) -> ProductVariant | None:
        return (await cls.resolve_references(info, [{"id": id}]))[0]

    @classmethod
    async def resolve_references(
        cls, info: Info, representations: list[dict[str, Any]]
    ) -> list[ProductVariant | None]:
        """Every reference of an `_entities` at once (shared.graphql `Schema.entities_resolver`)."""
        ids = [str(representation["id"]) for representation in representations]
        records = await info.context.loaders.variant.load_many(ids)
        return [cls.from_record(record) if record is not None else None for record in records]


def _shows_dates(info: Info) -> bool:
    """Whether a listing's selection reads its products' dates (through fragments too; a `@skip`ped one
    counts): else they are not read from the database."""
    return any(selects(info, *path) for path in _DATE_PATHS)


_DATE_PATHS = [(*via, date) for via in (("nodes",), ("edges", "node")) for date in ("createdAt", "updatedAt")]


def _listed(item: RankedProduct) -> Product:
    return Product.from_row(item.product)


def _optional(row: models.Product | ProductRecord | None) -> Product | None:
    return Product.from_row(row) if row is not None else None


@strawberry.type(description="A category with active products.")
class Category:
    name: str
    product_count: int = strawberry.field(description="How many active products it has.")


@strawberry.input(description="An option and the values it is offered in, in the order a shop shows them.")
class ProductOptionInput:
    name: str = strawberry.field(
        description="1 to 50 characters, unique within the product whatever its case."
    )
    values: list[str] = strawberry.field(description="1 to 20 values of 1 to 50 characters, none twice.")


@strawberry.input(description="A variant's value of one of its product's options (either in any case).")
class SelectedOptionInput:
    name: str
    value: str


@strawberry.input(description="A new variant of a product.")
class ProductVariantInput:
    sku: str = strawberry.field(description="Unique among products and variants; stored upper case.")
    price: MoneyInput | None = strawberry.field(
        default=None, description="In the product's currency; null: the product's price (and follows it)."
    )
    weight: int | None = strawberry.field(
        default=None, description="Grams, 0 to 1,000,000; null: the product's weight (and follows it)."
    )
    option_values: list[SelectedOptionInput] = strawberry.field(
        default_factory=list, description="Exactly one value of each of the product's options."
    )
    active: bool = strawberry.field(default=True, description="False: created archived (not for sale).")

    def as_raw(self) -> dict[str, Any]:
        """The input as `variants.clean_new_variant` reads it."""
        return {
            "sku": self.sku,
            "price": _money(self.price),
            "weight": self.weight,
            "option_values": _selected(self.option_values),
            "active": self.active,
        }


@strawberry.input(
    description="Only the fields given change. `price: null` / `weight: null`: the product's again; "
    "`active: true` restores an archived variant (its option values must then fit the product's options)."
)
class UpdateProductVariantInput:
    sku: str | None = strawberry.UNSET
    price: MoneyInput | None = strawberry.UNSET
    weight: int | None = strawberry.UNSET
    option_values: list[SelectedOptionInput] | None = strawberry.UNSET
    active: bool | None = strawberry.UNSET

    def as_changes(self) -> dict[str, Any]:
        """The given fields, as `VariantService.update_variant` reads them (a null stays a null: refused where
        it means nothing)."""
        changes: dict[str, Any] = {}
        for name in ("sku", "weight", "active"):
            if getattr(self, name) is not strawberry.UNSET:
                changes[name] = getattr(self, name)
        if self.price is not strawberry.UNSET:
            changes["price"] = _money(self.price)
        if self.option_values is not strawberry.UNSET:
            changes["option_values"] = _selected(self.option_values)
        return changes


def _money(value: MoneyInput | None) -> dict[str, Any] | None:
    return None if value is None else {"amount": value.amount, "currency": value.currency}


def _selected(values: list[SelectedOptionInput] | None) -> list[dict[str, str]] | None:
    return None if values is None else [{"name": item.name, "value": item.value} for item in values]


@strawberry.input
class CreateProductInput:
    sku: str
    name: str
    description: str = ""
    price: MoneyInput = strawberry.field(
        description="The list price: what variants without a price of their own sell at."
    )
    category: str
    tax_class: str = strawberry.field(
        default="standard", description="Lower case; `standard` when not given."
    )
    weight: int | None = strawberry.field(
        default=None, description="Grams, 0 to 1,000,000; null when unknown."
    )
    options: list[ProductOptionInput] | None = strawberry.field(
        default=None, description="At most 3 (`Size`, `Colour`, ...)."
    )
    variants: list[ProductVariantInput] | None = strawberry.field(
        default=None,
        description="At most 100, each with one value of every option, no two active ones alike. Without "
        "them the product has one variant sharing its id and SKU (with each option's first value).",
    )


@strawberry.input(description="Only the fields given change; null is refused for every field.")
class UpdateProductInput:
    name: str | None = strawberry.UNSET
    description: str | None = strawberry.UNSET
    price: MoneyInput | None = strawberry.UNSET
    category: str | None = strawberry.UNSET
    tax_class: str | None = strawberry.UNSET
    weight: int | None = strawberry.UNSET
    active: bool | None = strawberry.UNSET


@strawberry.type(name="ProductConnection")
class ProductConnection(Connection[Product]):
    """A page of `Query.products`, and the facets of its whole result."""

    listing: strawberry.Private[Listing]

    @strawberry.field(
        description="Counts of the whole result (every page, every filter applied): categories, option "
        "values, products in stock, price ranges. One more statement, only run when asked for.",
        # Demand control: a second statement aggregating the result's variants.
        directives=[Cost(weight=10)],
    )
    async def facets(self, info: Info) -> ProductFacets:
        return ProductFacets.of(await CatalogSearch(info.context).facets(self.listing))


@strawberry.type
class Query:
    @strawberry.field(description="A product by id, archived ones included; null when there is none.")
    async def product(self, info: Info, id: strawberry.ID) -> Product | None:
        return _optional(await ProductService(info.context).view_product(id))

    @strawberry.field(
        description=(
            "Active products, newest first; with `search`, full-text matches by relevance; `filter` and "
            "`sort` for faceted search (`facets`). `includeArchived` is for admins."
        ),
        # Demand control: `first` is how many edges (and nodes) a page holds.
        directives=[ListSize(slicing_arguments=["first"], sized_fields=["edges", "nodes"])],
    )
    async def products(
        self,
        info: Info,
        # Demand control: a ranked full-text search costs more than a page of the newest.
        search: Annotated[str | None, strawberry.argument(directives=[Cost(weight=5)])] = None,
        category: str | None = None,
        first: int | None = 20,
        after: str | None = None,
        include_archived: bool = False,
        # Demand control: variant filters join the variants; a price sort aggregates them.
        filter: Annotated[
            ProductSearchFilter | None, strawberry.argument(directives=[Cost(weight=5)])
        ] = None,
        sort: Annotated[ProductSort | None, strawberry.argument(directives=[Cost(weight=3)])] = None,
    ) -> ProductConnection:
        search_service = CatalogSearch(info.context)
        listing = await search_service.listing(
            search=search,
            category=category,
            include_archived=include_archived,
            filter=filter.to_input() if filter is not None else None,
            sort=sort.value if sort is not None else None,
        )
        page = await search_service.page(
            listing,
            first=first,
            after=after,
            with_total=selects(info, "totalCount"),
            dated=_shows_dates(info),
        )
        built = connection(
            page.items,
            size=page.size,
            cursor_of=page.cursors(),
            node_of=_listed,
            has_previous=page.has_previous,
            total_count=page.total_count,
        )
        return ProductConnection(
            edges=built.edges, page_info=built.page_info, total_count=built.total_count, listing=listing
        )

    @strawberry.field(
        description="Categories of active products, by name.",
        # Demand control: a catalog's categories are tens, not thousands.
        directives=[ListSize(assumed_size=50)],
    )
    async def categories(self, info: Info) -> list[Category]:
        counts = await ProductService(info.context).categories()
        return [Category(name=name, product_count=count) for name, count in counts]


@strawberry.type
class Mutation(MediaMutations):  # the media mutations: media_schema.py
    @strawberry.mutation(**guarded(IsAdmin))
    async def create_product(self, info: Info, input: CreateProductInput) -> Product:
        options = (
            None if input.options is None else [{"name": o.name, "values": o.values} for o in input.options]
        )
        variants = None if input.variants is None else [variant.as_raw() for variant in input.variants]
        row = await VariantService(info.context).create_product(
            options=options,
            variants=variants,
            sku=input.sku,
            name=input.name,
            description=input.description,
            price_amount=input.price.amount,
            price_currency=input.price.currency,
            category=input.category,
            tax_class=input.tax_class,
            weight=input.weight,
        )
        return Product.from_row(row)

    @strawberry.mutation(**guarded(IsAdmin))
    async def update_product(self, info: Info, id: strawberry.ID, input: UpdateProductInput) -> Product:
        changes: dict[str, Any] = {
            name: getattr(input, name)
            for name in ("name", "description", "category", "tax_class", "weight", "active")
            if getattr(input, name) is not strawberry.UNSET
        }
        if input.price is not strawberry.UNSET:
            price = input.price
            changes["price"] = None if price is None else {"amount": price.amount, "currency": price.currency}
        return Product.from_row(await ProductService(info.context).update_product(id, changes))

    @strawberry.mutation(**guarded(IsAdmin), description="Take a product out of the listings.")
    async def archive_product(self, info: Info, id: strawberry.ID) -> Product:
        return Product.from_row(await ProductService(info.context).archive_product(id))

    @strawberry.mutation(
        **guarded(IsAdmin),
        description="Replace a product's options. An added option gives every active variant its first "
        "value; removing a value an active variant has, or leaving two active variants alike, is refused "
        "(CONFLICT, `variantIds`); archived variants keep their values.",
    )
    async def set_product_options(
        self, info: Info, product_id: strawberry.ID, options: list[ProductOptionInput]
    ) -> Product:
        raw = [{"name": option.name, "values": option.values} for option in options]
        return Product.from_row(await VariantService(info.context).set_options(product_id, raw))

    @strawberry.mutation(**guarded(IsAdmin), description="Add a variant to a product.")
    async def create_product_variant(
        self, info: Info, product_id: strawberry.ID, input: ProductVariantInput
    ) -> ProductVariant:
        record = await VariantService(info.context).create_variant(product_id, input.as_raw())
        return ProductVariant.from_record(record)

    @strawberry.mutation(**guarded(IsAdmin), description="Change a variant, or restore it (`active: true`).")
    async def update_product_variant(
        self, info: Info, id: strawberry.ID, input: UpdateProductVariantInput
    ) -> ProductVariant:
        record = await VariantService(info.context).update_variant(id, input.as_changes())
        return ProductVariant.from_record(record)

    @strawberry.mutation(
        **guarded(IsAdmin),
        description="Stop selling a variant: inventory refuses to reserve it; it stays readable. Idempotent.",
    )
    async def archive_product_variant(self, info: Info, id: strawberry.ID) -> ProductVariant:
        return ProductVariant.from_record(await VariantService(info.context).archive_variant(id))


schema = build_schema(query=Query, mutation=Mutation, types=[Product, ProductVariant])
