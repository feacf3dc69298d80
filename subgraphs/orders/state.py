"""What one orders process keeps for its life: built by `app.setup`, reachable as `runtime.state`."""

from __future__ import annotations

from dataclasses import dataclass

from subgraphs.orders.feed import OrderFeed
from subgraphs.orders.metrics import OrdersMetrics
from subgraphs.orders.returns_process import ReturnProcess
from subgraphs.orders.saga import Saga
from subgraphs.orders.settings import OrdersSettings


@dataclass(frozen=True, slots=True)
class OrdersState:
    settings: OrdersSettings
    metrics: OrdersMetrics
    saga: Saga
    feed: OrderFeed
    # Received returns' refund and restock (returns_process.py).
    returns: ReturnProcess
