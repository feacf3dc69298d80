"""Per-request DataLoaders: the stock of every `Product` reference in one request is read with one query."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING

from sqlalchemy.ext.asyncio import AsyncSession
from strawberry.dataloader import DataLoader

from subgraphs.inventory import repository
from subgraphs.inventory.repository import StockLevel

if TYPE_CHECKING:
    from shared.context import Context


class StockLoaders:
    """`stock`: product id -> its StockLevel (all zeros for a product inventory holds nothing of)."""

    def __init__(self, session: Callable[[], AsyncSession]) -> None:
        # A callable: the request's session is opened on first use only.
        self._session = session
        self.stock: DataLoader[uuid.UUID, StockLevel] = DataLoader(load_fn=self._load_stock)

    async def _load_stock(self, product_ids: Sequence[uuid.UUID]) -> list[StockLevel]:
        found = await repository.get_levels(self._session(), list(set(product_ids)))
        return [found.get(product_id) or StockLevel.empty(product_id) for product_id in product_ids]

    def remember(self, level: StockLevel) -> None:
        """After a change in this request, later reads of the product see the changed row."""
        self.stock.prime(level.product_id, level, force=True)


def build_loaders(context: Context) -> StockLoaders:
    return StockLoaders(lambda: context.session)
