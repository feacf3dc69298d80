"""What one products process keeps for its life: built by `app.setup`, reachable as `runtime.state`."""

from __future__ import annotations

from dataclasses import dataclass

from subgraphs.products.activity import Activity
from subgraphs.products.cache import ProductCache
from subgraphs.products.media_storage import Storage
from subgraphs.products.metrics import ProductsMetrics
from subgraphs.products.settings import ProductsSettings


@dataclass(frozen=True, slots=True)
class ProductsState:
    settings: ProductsSettings
    metrics: ProductsMetrics
    activity: Activity
    cache: ProductCache
    # Where product images are kept (media_storage.py).
    storage: Storage
