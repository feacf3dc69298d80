"""Settings of the shipping service (`MYSHOP_SHIPPING_*`, plus the common `MYSHOP_*` ones)."""

from __future__ import annotations

from typing import ClassVar

from shared.settings import ServiceSettings, service_config


class ShippingSettings(ServiceSettings):
    model_config = service_config("shipping")
    service_name: ClassVar[str] = "shipping"
