"""The catalog's listings and faceted search: the rules of their filters, sorts and cursors (SQL in
search_repository.py, facets_repository.py).

Availability ("in stock") is what inventory last said: its `StockChanged` events, consumed by products
(`events.py`), keep `product_variants.available_units`. It lags inventory by the outbox relay's poll interval
(`MYSHOP_OUTBOX_POLL_INTERVAL`, 0.2 s by default) plus the consumer's hop through Redis (a blocked XREADGROUP
returns as soon as an event arrives; `MYSHOP_CONSUMER_BLOCK_MS` only bounds a quiet wait), so about a quarter
of a second when both services are up (measured in tests/products/test_products_search_availability.py);
while products' consumer or Redis is down, availability stays as last known and catches up from the
consumer group's position. A listing is a shopper's hint: inventory alone decides a reservation.
"""

from __future__ import annotations

import hashlib
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import orjson
from sqlalchemy.ext.asyncio import AsyncSession

from shared.auth import Role
from shared.context import Context
from shared.errors import BadUserInput, Forbidden
from shared.ids import uuid_or_none
from shared.money import normalize_currency
from shared.pagination import cursor_encoder, decode_cursor, newest_first_position, page_size
from subgraphs.products import facets_repository, search_repository
from subgraphs.products.activity import activity_of, reader_of
from subgraphs.products.facets_repository import FacetRow
from subgraphs.products.input_rules import bounded_text
from subgraphs.products.models import CATEGORY_MAX_LENGTH, OPTION_NAME_MAX_LENGTH, OPTION_VALUE_MAX_LENGTH
from subgraphs.products.search_repository import (
    PRICE_SORTS,
    OptionMatch,
    ProductFilter,
    ProductSort,
    RankedProduct,
)

# Bounds of one filter (an attacker's OR of thousands of values is a slow statement, not a search).
MAX_CATEGORIES = 20
MAX_OPTIONS = 10
MAX_OPTION_VALUES = 20
# The largest amount a price filter takes: the largest price there can be (service.MAX_AMOUNT).
MAX_PRICE = 2**53 - 1
# Facet lists a response carries at most (the most frequent first): a catalog's long tail is not a facet.
MAX_FACET_CATEGORIES = 50
MAX_FACET_OPTIONS = 20
MAX_FACET_VALUES = 50


@dataclass(frozen=True, slots=True)
class PriceFilterInput:
    min: int | None = None
    max: int | None = None
    currency: str | None = None


@dataclass(frozen=True, slots=True)
class OptionFilterInput:
    name: str
    values: Sequence[str]


@dataclass(frozen=True, slots=True)
class SearchFilterInput:
    """`ProductSearchFilter` as the schema hands it over (not yet checked)."""

    categories: Sequence[str] | None = None
    price: PriceFilterInput | None = None
    in_stock: bool | None = None
    options: Sequence[OptionFilterInput] | None = None


@dataclass(frozen=True, slots=True)
class Listing:
    """A checked listing request: what is listed and in which order."""

    filters: ProductFilter
    sort: ProductSort


@dataclass(frozen=True, slots=True)
class ProductPage:
    items: list[RankedProduct]  # up to `size + 1`: the extra one only says there is a next page
    size: int
    has_previous: bool
    cursor_kind: str
    total_count: int | None
    listing: Listing

    def cursors(self) -> Callable[[RankedProduct], str]:
        """The cursor of each item of this page: its key in the page's order, encoded (`cursor_encoder`)."""
        encode = cursor_encoder(self.cursor_kind)
        if self.listing.sort in PRICE_SORTS:
            return lambda item: encode([item.price, str(item.product.id)])
        if self.listing.sort is ProductSort.RELEVANCE:
            return lambda item: encode([item.rank, str(item.product.id)])
        return lambda item: encode([item.product.created_at.isoformat(), str(item.product.id)])


@dataclass(frozen=True, slots=True)
class FacetCount:
    value: str
    count: int


@dataclass(frozen=True, slots=True)
class OptionFacet:
    name: str
    values: list[FacetCount]


@dataclass(frozen=True, slots=True)
class PriceFacet:
    currency: str
    min: int
    max: int
    count: int


@dataclass(frozen=True, slots=True)
class Facets:
    categories: list[FacetCount]
    options: list[OptionFacet]
    in_stock: int
    prices: list[PriceFacet]


# --- input rules -------------------------------------------------------------------------------------------


def _amount(value: object, field: str) -> int | None:
    if value is None:
        return None
    if type(value) is not int or not 0 <= value <= MAX_PRICE:
        raise BadUserInput(f"`{field}` is 0 to {MAX_PRICE} minor units.", field=field)
    return value


def clean_listing(
    search: str | None,
    category: str | None,
    *,
    include_archived: bool,
    filter: SearchFilterInput | None = None,
    sort: ProductSort | None = None,
) -> Listing:
    """The filters and order of a listing; a blank search or category filters nothing, an empty list of
    categories neither. Without a sort: by relevance when searching, else newest."""
    search = search.strip() if search else None
    category = category.strip() if category else None
    values: dict[str, Any] = {
        "search": search or None,
        "category": category or None,
        "include_archived": include_archived,
    }
    if filter is not None:
        values.update(_clean_filter(filter))
    filters = ProductFilter(**values)
    if sort is None:
        sort = ProductSort.RELEVANCE if filters.search is not None else ProductSort.NEWEST
    elif sort is ProductSort.RELEVANCE and filters.search is None:
        raise BadUserInput("Sorting by relevance needs a `search`.", field="sort")
    return Listing(filters, sort)


def _clean_filter(raw: SearchFilterInput) -> dict[str, Any]:
    values: dict[str, Any] = {}
    if raw.categories is not None:
        if len(raw.categories) > MAX_CATEGORIES:
            raise BadUserInput(f"At most {MAX_CATEGORIES} categories.", field="filter.categories")
        cleaned = (bounded_text(c, "filter.categories", maximum=CATEGORY_MAX_LENGTH) for c in raw.categories)
        values["categories"] = tuple(sorted(set(cleaned)))
    if raw.price is not None:
        low = _amount(raw.price.min, "filter.price.min")
        high = _amount(raw.price.max, "filter.price.max")
        if low is not None and high is not None and low > high:
            raise BadUserInput("`filter.price.min` is above `filter.price.max`.", field="filter.price")
        values["price_min"], values["price_max"] = low, high
        if raw.price.currency is not None:
            try:
                values["currency"] = normalize_currency(raw.price.currency)
            except (ValueError, TypeError) as exc:
                raise BadUserInput("Not an ISO 4217 currency code.", field="filter.price.currency") from exc
    values["in_stock"] = raw.in_stock
    if raw.options is not None:
        if len(raw.options) > MAX_OPTIONS:
            raise BadUserInput(f"At most {MAX_OPTIONS} options.", field="filter.options")
        options: dict[str, OptionMatch] = {}
        for option in raw.options:
            name = bounded_text(option.name, "filter.options.name", maximum=OPTION_NAME_MAX_LENGTH)
            if not option.values:
                raise BadUserInput(f"Option {name!r} names no value.", field="filter.options.values")
            if len(option.values) > MAX_OPTION_VALUES:
                raise BadUserInput(
                    f"At most {MAX_OPTION_VALUES} values per option.", field="filter.options.values"
                )
            if name in options:
                raise BadUserInput(f"Option {name!r} is given twice.", field="filter.options.name")
            cleaned = {
                bounded_text(v, "filter.options.values", maximum=OPTION_VALUE_MAX_LENGTH)
                for v in option.values
            }
            options[name] = OptionMatch(name, tuple(sorted(cleaned)))
        values["options"] = tuple(options[name] for name in sorted(options))
    return values


def cursor_kind(listing: Listing) -> str:
    """A cursor is only valid for the listing that made it: same order, same search, same filters. (Without
    a filter the fingerprint is what it was before filters existed, so those cursors stay valid.)"""
    filters = listing.filters
    parts: list[Any] = [filters.search, filters.category, filters.include_archived]
    extra = [
        list(filters.categories),
        filters.price_min,
        filters.price_max,
        filters.currency,
        filters.in_stock,
        [[option.name, list(option.values)] for option in filters.options],
    ]
    if extra != [[], None, None, None, None, []]:
        parts.append(extra)
    fingerprint = orjson.dumps(parts)
    return f"products:{listing.sort.value}:{hashlib.sha256(fingerprint).hexdigest()[:16]}"


def _rank_key(key: list[Any]) -> tuple[float, uuid.UUID]:
    if len(key) == 2 and isinstance(key[0], int | float) and not isinstance(key[0], bool):
        product_id = uuid_or_none(key[1])
        if product_id is not None:
            return float(key[0]), product_id
    raise BadUserInput("Invalid cursor.", field="after")


def _price_key(key: list[Any]) -> tuple[int, uuid.UUID]:
    if len(key) == 2 and type(key[0]) is int:
        product_id = uuid_or_none(key[1])
        if product_id is not None:
            return key[0], product_id
    raise BadUserInput("Invalid cursor.", field="after")


def facets_of(rows: list[FacetRow]) -> Facets:
    """The facets statement's rows as a response shows them: most products first, then by name."""
    categories: list[FacetCount] = []
    options: dict[str, list[FacetCount]] = {}
    in_stock = 0
    prices: list[PriceFacet] = []
    for row in rows:
        if row.kind == "category" and row.name is not None:
            categories.append(FacetCount(row.name, row.count))
        elif row.kind == "option" and row.name is not None and row.value is not None:
            options.setdefault(row.name, []).append(FacetCount(row.value, row.count))
        elif row.kind == "in_stock":
            in_stock = row.count
        elif row.kind == "price" and row.name is not None and row.min is not None and row.max is not None:
            prices.append(PriceFacet(row.name, row.min, row.max, row.count))

    def ranked(counts: list[FacetCount], limit: int) -> list[FacetCount]:
        return sorted(counts, key=lambda c: (-c.count, c.value))[:limit]

    # The options most products have, when there are more than a response carries; shown by name.
    busiest = sorted(options.items(), key=lambda item: (-max(c.count for c in item[1]), item[0]))
    option_facets = [OptionFacet(name, ranked(values, MAX_FACET_VALUES)) for name, values in busiest]
    return Facets(
        categories=ranked(categories, MAX_FACET_CATEGORIES),
        options=sorted(option_facets[:MAX_FACET_OPTIONS], key=lambda facet: facet.name),
        in_stock=in_stock,
        prices=sorted(prices, key=lambda p: p.currency),
    )


# --- the service -------------------------------------------------------------------------------------------


class CatalogSearch:
    """Listings of the catalog for `Query.products`, in the request's transaction."""

    def __init__(self, context: Context) -> None:
        self.context = context

    @property
    def session(self) -> AsyncSession:
        return self.context.session

    async def listing(
        self,
        *,
        search: str | None,
        category: str | None,
        include_archived: bool,
        filter: SearchFilterInput | None = None,
        sort: ProductSort | None = None,
    ) -> Listing:
        """The checked listing; FORBIDDEN for archived products unless an ADMIN asks."""
        if include_archived:
            # Only then is the caller asked for: a plain listing reads no token at all.
            principal = await self.context.require_principal()
            if not principal.has_any_role(Role.ADMIN):
                raise Forbidden("Only admins list archived products.", field="includeArchived")
        return clean_listing(search, category, include_archived=include_archived, filter=filter, sort=sort)

    async def page(
        self,
        listing: Listing,
        *,
        first: int | None,
        after: str | None,
        with_total: bool = False,
        dated: bool = True,
    ) -> ProductPage:
        """A page of `listing` after the cursor `after` (one statement, the total riding along). Not `dated`
        (nothing shows them): its products' created_at and updated_at may be None; newest first reads them
        anyway, its cursors hold created_at."""
        filters, sort = listing.filters, listing.sort
        size = page_size(first)
        kind = cursor_kind(listing)
        if sort is ProductSort.RELEVANCE:
            rank_after = _rank_key(decode_cursor(after, kind)) if after is not None else None
            found = await search_repository.search_page(
                self.session, filters, after=rank_after, limit=size + 1, with_total=with_total, dated=dated
            )
        elif sort in PRICE_SORTS:
            price_after = _price_key(decode_cursor(after, kind)) if after is not None else None
            found = await search_repository.price_page(
                self.session,
                filters,
                descending=sort is ProductSort.PRICE_DESC,
                after=price_after,
                limit=size + 1,
                with_total=with_total,
                dated=dated,
            )
        else:
            newest_after = newest_first_position(after, kind) if after is not None else None
            found = await search_repository.newest_page(
                self.session, filters, after=newest_after, limit=size + 1, with_total=with_total
            )
        result = ProductPage(
            found.items,
            size=size,
            has_previous=after is not None,
            cursor_kind=kind,
            total_count=found.total,
            listing=listing,
        )
        activity = activity_of(self.context)
        if filters.search is not None and activity is not None:
            shown = [str(item.product.id) for item in found.items[:size]]
            count = found.total if found.total is not None else len(shown)
            activity.searched(filters.search, filters.category, count, shown, reader_of(self.context))
        return result

    async def facets(self, listing: Listing) -> Facets:
        """The facets of the whole result of `listing` (every page), every filter applied."""
        return facets_of(await facets_repository.facets(self.session, listing.filters, listing.sort))
