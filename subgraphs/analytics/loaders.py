"""Per-request DataLoaders: the stats of every `Product` an `_entities` call asks for are read in one go."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from typing import TYPE_CHECKING

from strawberry.dataloader import DataLoader

from subgraphs.analytics.service import ProductStatsFigures, Reports, VariantStatsFigures

if TYPE_CHECKING:
    from shared.context import Context


class AnalyticsLoaders:
    """`product_stats`: product id -> its all-time figures (zeros for a product analytics never saw);
    `variant_stats`: variant id -> its all-time sales."""

    def __init__(self, reports: Reports) -> None:
        self._reports = reports
        self.product_stats: DataLoader[uuid.UUID, ProductStatsFigures] = DataLoader(load_fn=self._load_stats)
        self.variant_stats: DataLoader[uuid.UUID, VariantStatsFigures] = DataLoader(
            load_fn=self._load_variant_stats
        )

    async def _load_variant_stats(self, variant_ids: Sequence[uuid.UUID]) -> list[VariantStatsFigures]:
        return await self._reports.variant_stats(variant_ids)

    async def _load_stats(self, product_ids: Sequence[uuid.UUID]) -> list[ProductStatsFigures]:
        return await self._reports.product_stats(product_ids)


def build_loaders(context: Context) -> AnalyticsLoaders:
    return AnalyticsLoaders(Reports.of(context))
