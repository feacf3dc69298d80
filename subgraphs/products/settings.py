"""Settings of the products service (`MYSHOP_PRODUCTS_*`, plus the common `MYSHOP_*` ones)."""

from __future__ import annotations

from pathlib import Path
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
    # Product images (media.py): files under this directory (MYSHOP_PRODUCTS_MEDIA_DIR); unset:
    # `<data_dir>/media`. Every replica must see the same directory (a shared volume).
    media_dir: Path | None = None
    # What media URLs start with (MYSHOP_PRODUCTS_MEDIA_BASE_URL), e.g. `https://shop.example.com` or a CDN in
    # front of the router; empty: the path alone (`/media/<id>/small`), which a client resolves against the
    # router it asked (the router passes `/media/*` to this service).
    media_base_url: str = Field("", max_length=500, pattern=r"^(https?://[^\s?#]+)?$")

    @property
    def media_root(self) -> Path:
        return self.media_dir if self.media_dir is not None else self.data_dir / "media"
