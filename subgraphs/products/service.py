"""The catalog's actions: create, change and archive products, list and search them. Rules here, SQL in
repository.py. Every action runs in the request's transaction (`context.session`): it flushes, never commits.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Mapping, Sequence
from typing import Any

from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from shared.context import Context
from shared.errors import BadUserInput, Conflict, NotFound
from shared.ids import parse_uuid
from shared.money import normalize_currency
from subgraphs.products import repository
from subgraphs.products.activity import activity_of, reader_of
from subgraphs.products.cache import ProductRecord
from subgraphs.products.events import ProductChange, ProductEvent, emit_variant_events, variant_payload
from subgraphs.products.input_rules import bounded_text, require_str
from subgraphs.products.models import (
    CATEGORY_MAX_LENGTH,
    DEFAULT_TAX_CLASS,
    DESCRIPTION_MAX_LENGTH,
    NAME_MAX_LENGTH,
    SKU_MAX_LENGTH,
    TAX_CLASS_MAX_LENGTH,
    Product,
    outbox,
)
from subgraphs.products.repository import VariantRecord
from subgraphs.products.search import CatalogSearch, ProductPage, SearchFilterInput
from subgraphs.products.search_repository import ProductSort
from subgraphs.products.state import ProductsState

SKU_PATTERN = re.compile(rf"[A-Z0-9][A-Z0-9-]{{1,{SKU_MAX_LENGTH - 1}}}")
# The largest integer a JavaScript client reads exactly (Number.MAX_SAFE_INTEGER).
MAX_AMOUNT = 2**53 - 1
# A SKU is unique among products and among variants (a single-variant product's variant has the product's).
_SKU_CONSTRAINTS = frozenset({"uq_products_sku", "uq_product_variants_sku"})

# The fields `ProductService.update_product` may change; anything else in `changes` is a programming error.
UPDATABLE_FIELDS = frozenset({"name", "description", "price", "category", "active", "tax_class", "weight"})
# A tax class names a column of orders' tax table: short, lower case, no spaces.
TAX_CLASS_PATTERN = re.compile(rf"[a-z][a-z0-9_-]{{0,{TAX_CLASS_MAX_LENGTH - 1}}}")
# A tonne: heavier goods ship as freight, not through a cart.
MAX_WEIGHT_GRAMS = 1_000_000
# The product's columns a variant's effective values (its events' payload) come from.
_VARIANT_EFFECTIVE_COLUMNS = frozenset({"price_amount", "price_currency", "weight_grams", "active"})


# --- ids ---------------------------------------------------------------------------------------------


def parse_product_id(value: object, *, field: str = "id") -> uuid.UUID:
    return parse_uuid(value, field, "a product id")


# --- input rules -------------------------------------------------------------------------------------


def clean_sku(value: object) -> str:
    sku = require_str(value, "sku").strip().upper()
    if not SKU_PATTERN.fullmatch(sku):
        raise BadUserInput(
            f"A SKU is 2 to {SKU_MAX_LENGTH} letters, digits and dashes, starting with a letter or digit.",
            field="sku",
        )
    return sku


def clean_name(value: object) -> str:
    return bounded_text(value, "name", maximum=NAME_MAX_LENGTH)


def clean_description(value: object) -> str:
    return bounded_text(value, "description", minimum=0, maximum=DESCRIPTION_MAX_LENGTH)


def clean_category(value: object) -> str:
    return bounded_text(value, "category", maximum=CATEGORY_MAX_LENGTH)


def clean_tax_class(value: object) -> str:
    tax_class = require_str(value, "taxClass").strip().lower()
    if not TAX_CLASS_PATTERN.fullmatch(tax_class):
        raise BadUserInput(
            f"A tax class is 1 to {TAX_CLASS_MAX_LENGTH} lower-case letters, digits, '_' or '-'.",
            field="taxClass",
        )
    return tax_class


def clean_weight(value: object) -> int:
    if type(value) is not int or not 0 <= value <= MAX_WEIGHT_GRAMS:
        raise BadUserInput(f"A weight is 0 to {MAX_WEIGHT_GRAMS} grams.", field="weight")
    return value


def clean_price(amount: object, currency: object) -> tuple[int, str]:
    if type(amount) is not int:
        raise BadUserInput("The amount is an integer number of minor units (cents).", field="price.amount")
    if amount < 0:
        raise BadUserInput("A price cannot be negative.", field="price.amount")
    if amount > MAX_AMOUNT:
        raise BadUserInput(f"A price is at most {MAX_AMOUNT} minor units.", field="price.amount")
    try:
        code = normalize_currency(require_str(currency, "price.currency"))
    except ValueError as exc:
        raise BadUserInput("Not an ISO 4217 currency code.", field="price.currency") from exc
    return amount, code


def _violated_constraint(exc: IntegrityError) -> str | None:
    # asyncpg's UniqueViolationError (the cause of SQLAlchemy's adapted error) names the constraint.
    for error in (exc.orig, getattr(exc.orig, "__cause__", None)):
        name = getattr(error, "constraint_name", None)
        if name:
            return str(name)
    return None


class ProductService:
    def __init__(self, context: Context) -> None:
        self.context = context

    @property
    def session(self) -> AsyncSession:
        return self.context.session

    # --- reading products ---

    async def get_product(self, raw_id: object) -> ProductRecord | None:
        """Any product by id, archived ones included (orders reference them); None for no such id."""
        return await self.context.loaders.product.load(str(raw_id))

    async def view_product(self, raw_id: object) -> ProductRecord | None:
        """A product a client reads by id: `get_product`, counted as a view for analytics."""
        product = await self.get_product(raw_id)
        activity = activity_of(self.context)
        if product is not None and activity is not None:
            activity.viewed(str(product.id), reader_of(self.context))
        return product

    async def list_products(
        self,
        *,
        search: str | None,
        category: str | None,
        include_archived: bool,
        first: int | None,
        after: str | None,
        with_total: bool = False,
        filter: SearchFilterInput | None = None,
        sort: ProductSort | None = None,
    ) -> ProductPage:
        """A page of active products (all for an ADMIN asking): by relevance when searching, else newest,
        unless `sort` says otherwise; faceted search (`search.py`)."""
        search_service = CatalogSearch(self.context)
        listing = await search_service.listing(
            search=search, category=category, include_archived=include_archived, filter=filter, sort=sort
        )
        return await search_service.page(listing, first=first, after=after, with_total=with_total)

    async def categories(self) -> list[tuple[str, int]]:
        """(name, active product count) of every category with active products, by name."""
        return await repository.category_counts(self.session)

    # --- changes ---
    # Each changed product is remembered by the request's loader, so later reads by id see the change.

    async def create_product(
        self,
        *,
        sku: str,
        name: str,
        description: str,
        price_amount: int,
        price_currency: str,
        category: str,
        tax_class: str = DEFAULT_TAX_CLASS,
        weight: int | None = None,
        options: Sequence[tuple[str, Sequence[str]]] = (),
        variants: Sequence[Mapping[str, Any]] | None = None,
    ) -> Product:
        """Create a product and its variants. `options` ((name, values)) and `variants` (product_variants
        rows without `product_id`) come checked by `variants.VariantService.create_product`; without
        `variants`, the product gets the one variant sharing its id and SKU (each option's first value)."""
        values: dict[str, Any] = {
            "sku": clean_sku(sku),
            "name": clean_name(name),
            "description": clean_description(description),
            "category": clean_category(category),
            "tax_class": clean_tax_class(tax_class),
            "weight_grams": clean_weight(weight) if weight is not None else None,
        }
        values["price_amount"], values["price_currency"] = clean_price(price_amount, price_currency)
        try:
            product = await repository.insert(self.session, values)
            await repository.replace_options(self.session, product.id, options)
            if variants is None:
                default = repository.single_variant_values(product.id, product.sku)
                default["option_values"] = {option: option_values[0] for option, option_values in options}
                rows: list[Mapping[str, Any]] = [default]
            else:
                rows = [{**row, "product_id": product.id} for row in variants]
            await repository.insert_variants(self.session, rows)
        except IntegrityError as exc:
            # Also the race: two requests creating one SKU; the second waits for the first, then fails here.
            if _violated_constraint(exc) in _SKU_CONSTRAINTS:
                raise Conflict(f"A product with SKU {values['sku']} already exists.", field="sku") from exc
            raise
        records = await repository.variants_of_products(self.session, [product.id])
        await self._product_updated(product, ProductChange.CREATED, previous_price=None, variants=records)
        await emit_variant_events(self.session, records, ProductChange.CREATED)
        self.remember_variants(product.id, records)
        return self._remember(product)

    async def update_product(self, product_id: object, changes: Mapping[str, Any]) -> Product:
        """Change exactly the fields in `changes` (price is {"amount", "currency"}); a None is refused."""
        unknown = set(changes) - UPDATABLE_FIELDS
        if unknown:
            raise ValueError(f"not updatable: {sorted(unknown)}")
        pid = parse_product_id(product_id)
        values: dict[str, Any] = {}
        if "name" in changes:
            values["name"] = clean_name(changes["name"])
        if "description" in changes:
            values["description"] = clean_description(changes["description"])
        if "category" in changes:
            values["category"] = clean_category(changes["category"])
        if "tax_class" in changes:
            values["tax_class"] = clean_tax_class(changes["tax_class"])
        if "weight" in changes:
            values["weight_grams"] = clean_weight(changes["weight"])
        if "active" in changes:
            if not isinstance(changes["active"], bool):
                raise BadUserInput("`active` cannot be null.", field="active")
            values["active"] = changes["active"]
        if "price" in changes:
            price = changes["price"]
            if price is None:
                raise BadUserInput("`price` cannot be null.", field="price")
            values["price_amount"], values["price_currency"] = clean_price(price["amount"], price["currency"])
        if not values:
            # Nothing to change: answer with the product as it is, without touching updated_at.
            found = await repository.get_many(self.session, [pid])
            if not found:
                raise NotFound("No such product.", field="id")
            return self._remember(found[0])
        return await self._change(pid, values)

    async def archive_product(self, product_id: object) -> Product:
        """Take a product out of the listings; it stays readable by id (orders reference it). Idempotent."""
        return await self._change(parse_product_id(product_id), {"active": False})

    async def _change(self, product_id: uuid.UUID, values: Mapping[str, Any]) -> Product:
        """Apply what differs in `values` and emit one `ProductUpdated`, and a `VariantUpdated` for every
        variant whose effective values moved with it; changing nothing writes nothing."""
        # Locked first: the event's previous price is the one this change replaced, and the events of one
        # product reach the outbox in the order of their commits.
        current = await repository.get_for_update(self.session, product_id)
        if current is None:
            raise NotFound("No such product.", field="id")
        was_active = current.active
        previous_price = {"amount": current.price_amount, "currency": current.price_currency}
        changed = {name: value for name, value in values.items() if getattr(current, name) != value}
        if not changed:
            return self._remember(current)
        # Only these move what a variant sells at or whether it may be sold (its events' payload).
        moves_variants = bool(changed.keys() & _VARIANT_EFFECTIVE_COLUMNS)
        before = await repository.variants_of_products(self.session, [product_id]) if moves_variants else []
        if "price_currency" in changed and any(record.has_own_price for record in before):
            # A variant's own price is in minor units of the product's currency: it cannot follow a change.
            raise Conflict(
                "Variants of this product have prices of their own in its currency: give them the new "
                "currency's prices (or inherit the product's: `price: null`) first.",
                field="price.currency",
            )
        product = await repository.update(self.session, product_id, changed)
        if product is None:  # the row is locked by us: it cannot have gone
            raise NotFound("No such product.", field="id")
        after = await repository.variants_of_products(self.session, [product_id])
        price_moved = previous_price != {"amount": product.price_amount, "currency": product.price_currency}
        change = ProductChange.ARCHIVED if was_active and not product.active else ProductChange.UPDATED
        await self._product_updated(
            product, change, previous_price=previous_price if price_moved else None, variants=after
        )
        if moves_variants:
            # Inheriting variants follow the product's price and weight, and every variant its active flag.
            earlier = {record.id: variant_payload(record, ProductChange.UPDATED) for record in before}
            moved = [r for r in after if earlier.get(r.id) != variant_payload(r, ProductChange.UPDATED)]
            await emit_variant_events(self.session, moved, ProductChange.UPDATED)
        self.remember_variants(product_id, after)
        return self._remember(product)

    async def touch(self, product_id: uuid.UUID) -> tuple[Product, list[VariantRecord]]:
        """Record a change of the product's options or variants made by the caller (`variants.py`, the row
        locked): a new updated_at and a `ProductUpdated`; returns the product and its variants as they are
        now."""
        product = await repository.update(self.session, product_id, {})
        if product is None:
            raise NotFound("No such product.", field="productId")
        records = await repository.variants_of_products(self.session, [product_id])
        await self._product_updated(product, ProductChange.UPDATED, previous_price=None, variants=records)
        self.remember_variants(product_id, records)
        return self._remember(product), records

    async def _product_updated(
        self,
        product: Product,
        change: ProductChange,
        *,
        previous_price: dict[str, Any] | None,
        variants: Sequence[VariantRecord],
    ) -> None:
        state: ProductsState | None = self.context.runtime.state
        cache = state.cache if state is not None else None
        if cache is not None:
            # Belt and braces: this request's caller reads the change at once; the event drops the entry too.
            product_id = product.id
            self.context.after_commit(lambda: cache.invalidate_after_commit([product_id]))
        await outbox.emit(
            self.session,
            ProductEvent.PRODUCT_UPDATED,
            {
                "productId": product.id,
                "sku": product.sku,
                "name": product.name,
                "price": {"amount": product.price_amount, "currency": product.price_currency},
                "previousPrice": previous_price,
                "category": product.category,
                "active": product.active,
                "variantIds": [record.id for record in variants],
                "change": change,
            },
            aggregate_id=product.id,
        )

    def _remember(self, product: Product) -> Product:
        self.context.loaders.remember(product)
        return product

    def remember_variants(self, product_id: uuid.UUID, records: Sequence[VariantRecord]) -> None:
        """After a change in this request, later reads of the product's variants see it."""
        self.context.loaders.remember_variants(product_id, records)
