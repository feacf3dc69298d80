"""Per-request DataLoaders: the stock of every `ProductVariant` reference in one request is read with one
query, and the sums of every `Product` reference with one more."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING

from sqlalchemy.ext.asyncio import AsyncSession
from strawberry.dataloader import DataLoader

from subgraphs.inventory import repository
from subgraphs.inventory.repository import ProductStock, StockLevel

if TYPE_CHECKING:
    from shared.context import Context


class StockLoaders:
    """`stock`: variant id -> its StockLevel (all zeros for a variant inventory holds nothing of);
    `product_stock`: product id -> the sums over its variants' rows (ProductStock)."""

    def __init__(self, session: Callable[[], AsyncSession]) -> None:
        # A callable: the request's session is opened on first use only.
        self._session = session
        self.stock: DataLoader[uuid.UUID, StockLevel] = DataLoader(load_fn=self._load_stock)
        self.product_stock: DataLoader[uuid.UUID, ProductStock] = DataLoader(load_fn=self._load_products)

    async def _load_stock(self, variant_ids: Sequence[uuid.UUID]) -> list[StockLevel]:
        found = await repository.get_levels(self._session(), list(set(variant_ids)))
        return [found.get(variant_id) or StockLevel.empty(variant_id) for variant_id in variant_ids]

    async def _load_products(self, product_ids: Sequence[uuid.UUID]) -> list[ProductStock]:
        found = await repository.get_product_stock(self._session(), list(set(product_ids)))
        return [found.get(product_id) or ProductStock.empty(product_id) for product_id in product_ids]

    def remember(self, level: StockLevel, product: ProductStock | None = None) -> None:
        """After a change in this request, later reads of the variant (and of its product, when the caller
        read its new sums) see the changed rows."""
        self.stock.prime(level.variant_id, level, force=True)
        if product is not None:
            self.product_stock.prime(product.product_id, product, force=True)
        elif (
            self.product_stock.cache_map.get(level.product_id) is not None
        ):  # clear() raises on a key not read
            self.product_stock.clear(level.product_id)


def build_loaders(context: Context) -> StockLoaders:
    return StockLoaders(lambda: context.session)
