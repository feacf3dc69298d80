"""The shipping service's own Prometheus metrics, on the process's registry (`GET /metrics`)."""

from __future__ import annotations

from prometheus_client import Counter

from shared.metrics import Metrics

# What happens to shipments: each a label value of `myshop_shipments_total`.
SHIPMENT_ACTIONS = ("created", "shipped", "delivered", "returned", "cancelled", "replayed")


class ShippingMetrics:
    def __init__(self, metrics: Metrics) -> None:
        self.service = metrics.service
        self.shipments = Counter(
            "myshop_shipments_total",
            "Shipment changes by action (created, shipped, delivered, returned, cancelled; replayed: a "
            "repeat answered without a change).",
            ["service", "action"],
            registry=metrics.registry,
        )
        for action in SHIPMENT_ACTIONS:
            self.shipments.labels(self.service, action)

    def shipment(self, action: str, amount: int = 1) -> None:
        if amount:
            self.shipments.labels(self.service, action).inc(amount)
