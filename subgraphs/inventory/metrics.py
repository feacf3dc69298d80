"""The inventory service's own Prometheus metrics, on the process's registry (`GET /metrics`)."""

from __future__ import annotations

from prometheus_client import Counter

from shared.metrics import Metrics

RESERVATION_OUTCOMES = (
    "reserved",
    "out_of_stock",
    "not_sellable",
    "confirmed",
    "released",
    "expired",
    "restocked",
)


class InventoryMetrics:
    def __init__(self, metrics: Metrics) -> None:
        self.service = metrics.service
        self.reservations = Counter(
            "myshop_inventory_reservations_total",
            "Reservation actions, by outcome.",
            ["service", "outcome"],
            registry=metrics.registry,
        )
        for outcome in RESERVATION_OUTCOMES:
            self.reservations.labels(self.service, outcome)

    def reservation(self, outcome: str, amount: int = 1) -> None:
        """`amount` reservations ended in `outcome` (one of RESERVATION_OUTCOMES)."""
        if amount:
            self.reservations.labels(self.service, outcome).inc(amount)
