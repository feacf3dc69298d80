"""Per-request DataLoaders: every product read by id in one request goes through one batched query."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

from sqlalchemy.ext.asyncio import AsyncSession
from strawberry.dataloader import DataLoader

from shared.ids import uuid_or_none
from subgraphs.products import repository
from subgraphs.products.models import Product

if TYPE_CHECKING:
    from shared.context import Context


class ProductLoaders:
    """`product`: id (any string a client sent) -> Product or None; N loads in one tick are one SELECT."""

    def __init__(self, session: Callable[[], AsyncSession]) -> None:
        # A callable: the request's session is opened on first use, not for requests that never read.
        self._session = session
        self.product: DataLoader[str, Product | None] = DataLoader(load_fn=self._load_products)

    async def _load_products(self, keys: list[str]) -> list[Product | None]:
        ids = [uuid_or_none(key) for key in keys]
        wanted = list({product_id for product_id in ids if product_id is not None})
        found = {product.id: product for product in await repository.get_many(self._session(), wanted)}
        return [found.get(product_id) if product_id is not None else None for product_id in ids]

    def remember(self, product: Product) -> None:
        """After a change in this request, later reads by id see the changed product."""
        self.product.prime(str(product.id), product, force=True)


def build_loaders(context: Context) -> ProductLoaders:
    return ProductLoaders(lambda: context.session)
