"""Settings of the inventory service (`MYSHOP_INVENTORY_*`, plus the common `MYSHOP_*` ones)."""

from __future__ import annotations

from typing import ClassVar

from pydantic import Field

from shared.settings import ServiceSettings, service_config


class InventorySettings(ServiceSettings):
    model_config = service_config("inventory")
    service_name: ClassVar[str] = "inventory"

    # How long reserved units stay held for an order that neither confirms nor releases them (a saga that
    # died unnoticed); the sweeper then gives them back.
    reservation_ttl_seconds: int = Field(900, ge=1, le=7 * 24 * 3600)
    # How often the sweeper looks for lapsed reservations, and how many it expires per transaction.
    sweep_interval_seconds: float = Field(30.0, gt=0)
    sweep_batch_size: int = Field(100, ge=1, le=10_000)
    # `StockLow` is emitted when a product's available units fall from at least this to below it.
    low_stock_threshold: int = Field(5, ge=0)
