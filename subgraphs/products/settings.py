"""Settings of the products service (`MYSHOP_PRODUCTS_*`, plus the common `MYSHOP_*` ones)."""

from __future__ import annotations

from typing import ClassVar

from pydantic import Field

from shared.settings import ServiceSettings, service_config


class ProductsSettings(ServiceSettings):
    model_config = service_config("products")
    service_name: ClassVar[str] = "products"

    # How many demo products `seed` inserts when not told otherwise (MYSHOP_PRODUCTS_SEED_COUNT).
    seed_count: int = 300
    # How often reads and searches counted in memory go to the outbox for analytics (`activity.py`).
    activity_flush_seconds: float = 2.0
    # Product rows by id are cached in Redis this long at most (`cache.py`); events invalidate them sooner.
    # 0 turns the cache off (reads go to PostgreSQL; events still invalidate what other replicas cached).
    cache_ttl_seconds: int = Field(300, ge=0, le=86_400)
    # A cache read or write slower than this counts as Redis being down: the request reads PostgreSQL.
    cache_timeout_seconds: float = Field(0.25, gt=0, le=10)
