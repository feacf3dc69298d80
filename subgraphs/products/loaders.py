"""Per-request DataLoaders: every product read by id in one request goes through one batched read, from the
Redis cache (`cache.py`) where it holds the product, else one SELECT."""

from __future__ import annotations

import contextlib
import uuid
from collections.abc import Sequence
from typing import TYPE_CHECKING

from strawberry.dataloader import DataLoader

from shared.ids import uuid_or_none
from subgraphs.products import repository
from subgraphs.products.cache import ProductRecord
from subgraphs.products.media import MediaLoaders
from subgraphs.products.models import Product, ProductOption
from subgraphs.products.repository import VariantRecord

if TYPE_CHECKING:
    from shared.context import Context
    from subgraphs.products.state import ProductsState


class ProductLoaders:
    """`product`: id (any string a client sent) -> ProductRecord or None; N loads in one tick are one read.
    `variant`: id -> VariantRecord or None; `variants`: product id -> its variants (archived ones included);
    `options`: product id -> its options. Variants and options are read from PostgreSQL (one SELECT per
    batch), not cached in Redis: only reads by product id are that hot."""

    def __init__(self, context: Context) -> None:
        self._context = context
        self.product: DataLoader[str, ProductRecord | None] = DataLoader(load_fn=self._load_products)
        self.variant: DataLoader[str, VariantRecord | None] = DataLoader(load_fn=self._load_variants)
        self.variants: DataLoader[uuid.UUID, list[VariantRecord]] = DataLoader(load_fn=self._load_variants_of)
        self.options: DataLoader[uuid.UUID, list[ProductOption]] = DataLoader(load_fn=self._load_options_of)
        # Product images (media.py): by product, by id.
        self.media = MediaLoaders(context)

    async def _load_variants(self, keys: list[str]) -> list[VariantRecord | None]:
        ids = [uuid_or_none(key) for key in keys]
        wanted = list({variant_id for variant_id in ids if variant_id is not None})
        found = {
            record.id: record for record in await repository.variants_by_id(self._context.session, wanted)
        }
        return [found.get(variant_id) if variant_id is not None else None for variant_id in ids]

    async def _load_variants_of(self, product_ids: list[uuid.UUID]) -> list[list[VariantRecord]]:
        grouped: dict[uuid.UUID, list[VariantRecord]] = {product_id: [] for product_id in product_ids}
        for record in await repository.variants_of_products(self._context.session, list(grouped)):
            grouped[record.product_id].append(record)
        return [grouped[product_id] for product_id in product_ids]

    async def _load_options_of(self, product_ids: list[uuid.UUID]) -> list[list[ProductOption]]:
        grouped: dict[uuid.UUID, list[ProductOption]] = {product_id: [] for product_id in product_ids}
        for option in await repository.options_of_products(self._context.session, list(grouped)):
            grouped[option.product_id].append(option)
        return [grouped[product_id] for product_id in product_ids]

    async def _load_products(self, keys: list[str]) -> list[ProductRecord | None]:
        ids = [uuid_or_none(key) for key in keys]
        wanted = list({product_id for product_id in ids if product_id is not None})
        state: ProductsState | None = self._context.runtime.state
        cache = state.cache if state is not None else None
        if cache is not None:
            found = await cache.get_many(wanted, self._read)
        else:  # outside a running service (a script, a unit test): straight from the database
            found = {record.id: record for record in map(ProductRecord.of, await self._read(wanted))}
        return [found.get(product_id) if product_id is not None else None for product_id in ids]

    async def _read(self, ids: list[uuid.UUID]) -> list[Product]:
        # The request's session is opened here, on first use: a request served from the cache opens none.
        return await repository.get_many(self._context.session, ids)

    def remember(self, product: Product) -> None:
        """After a change in this request, later reads by id see the changed product."""
        self.product.prime(str(product.id), ProductRecord.of(product), force=True)

    def remember_variants(self, product_id: uuid.UUID, records: Sequence[VariantRecord]) -> None:
        """After a change of a product's variants (or options) in this request, later reads see it."""
        self.variants.prime(product_id, list(records), force=True)
        for record in records:
            self.variant.prime(str(record.id), record, force=True)
        with contextlib.suppress(KeyError):  # Strawberry's `clear` raises for a key never loaded
            self.options.clear(product_id)


def build_loaders(context: Context) -> ProductLoaders:
    return ProductLoaders(context)
