"""What one shipping process keeps for its life: its settings (no long-lived objects of its own yet)."""

from __future__ import annotations

from dataclasses import dataclass

from subgraphs.shipping.settings import ShippingSettings


@dataclass(frozen=True, slots=True)
class ShippingState:
    settings: ShippingSettings
