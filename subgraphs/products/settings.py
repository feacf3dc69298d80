"""Settings of the products service (`MYSHOP_PRODUCTS_*`, plus the common `MYSHOP_*` ones)."""

from __future__ import annotations

from typing import ClassVar

from shared.settings import ServiceSettings, service_config


class ProductsSettings(ServiceSettings):
    model_config = service_config("products")
    service_name: ClassVar[str] = "products"

    # How many demo products `seed` inserts when not told otherwise (MYSHOP_PRODUCTS_SEED_COUNT).
    seed_count: int = 300
    # How often reads and searches counted in memory go to the outbox for analytics (`activity.py`).
    activity_flush_seconds: float = 2.0
