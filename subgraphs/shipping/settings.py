"""Settings of the shipping service (`MYSHOP_SHIPPING_*`, plus the common `MYSHOP_*` ones)."""

from __future__ import annotations

from typing import ClassVar

from pydantic import Field

from shared.settings import ServiceSettings, service_config


class ShippingSettings(ServiceSettings):
    model_config = service_config("shipping")
    service_name: ClassVar[str] = "shipping"

    # Orders' GraphQL endpoint (MYSHOP_SHIPPING_ORDERS_URL): an order's lines and leave to ship it.
    orders_url: str = "http://127.0.0.1:4003/graphql"
    # How long a shipment waits for orders' answer before it answers SERVICE_UNAVAILABLE.
    peer_timeout_seconds: float = Field(5.0, gt=0)
