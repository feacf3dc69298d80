"""Per-request DataLoaders: every product read by id in one request goes through one batched read, from the
Redis cache (`cache.py`) where it holds the product, else one SELECT."""

from __future__ import annotations

import uuid
from typing import TYPE_CHECKING

from strawberry.dataloader import DataLoader

from shared.ids import uuid_or_none
from subgraphs.products import repository
from subgraphs.products.cache import ProductRecord
from subgraphs.products.models import Product

if TYPE_CHECKING:
    from shared.context import Context
    from subgraphs.products.state import ProductsState


class ProductLoaders:
    """`product`: id (any string a client sent) -> ProductRecord or None; N loads in one tick are one read."""

    def __init__(self, context: Context) -> None:
        self._context = context
        self.product: DataLoader[str, ProductRecord | None] = DataLoader(load_fn=self._load_products)

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


def build_loaders(context: Context) -> ProductLoaders:
    return ProductLoaders(context)
