"""The orders service's own Prometheus metrics, on the process's registry (`GET /metrics`)."""

from __future__ import annotations

from prometheus_client import Counter, Histogram

from shared.metrics import Metrics


class OrdersMetrics:
    def __init__(self, metrics: Metrics) -> None:
        registry = metrics.registry
        self.saga_outcomes = Counter(
            "myshop_saga_outcomes_total", "Sagas ended, by final status.", ["status"], registry=registry
        )
        self.saga_step_retries = Counter(
            "myshop_saga_step_retries_total",
            "Forward step calls retried, by step.",
            ["step"],
            registry=registry,
        )
        # Alert on this: compensation never gives up, so a stuck one shows here and nowhere else.
        self.saga_compensation_retries = Counter(
            "myshop_saga_compensation_retries_total",
            "Compensation calls retried, by step.",
            ["step"],
            registry=registry,
        )
        self.sagas_recovered = Counter(
            "myshop_saga_recovered_total", "Sagas taken over from a dead process.", registry=registry
        )
        self.saga_duration = Histogram(
            "myshop_saga_duration_seconds",
            "Time from the start of driving a saga to its end.",
            registry=registry,
            buckets=(0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60),
        )
