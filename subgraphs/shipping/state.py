"""What one shipping process keeps for its life: built by `app.setup`, reachable as `runtime.state`."""

from __future__ import annotations

from dataclasses import dataclass

from subgraphs.shipping.metrics import ShippingMetrics
from subgraphs.shipping.peers import OrdersPeer
from subgraphs.shipping.settings import ShippingSettings


@dataclass(frozen=True, slots=True)
class ShippingState:
    settings: ShippingSettings
    metrics: ShippingMetrics
    orders: OrdersPeer
