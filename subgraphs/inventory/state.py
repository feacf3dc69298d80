"""What one inventory process keeps for its life: built by `app.setup`, reachable as `runtime.state`."""

from __future__ import annotations

from dataclasses import dataclass

from subgraphs.inventory.metrics import InventoryMetrics
from subgraphs.inventory.settings import InventorySettings


@dataclass(frozen=True, slots=True)
class InventoryState:
    settings: InventorySettings
    metrics: InventoryMetrics
