"""The payments service's own Prometheus metrics, on the process's registry (`GET /metrics`)."""

from __future__ import annotations

from prometheus_client import Counter, Histogram

from shared.metrics import Metrics


class PaymentsMetrics:
    def __init__(self, metrics: Metrics) -> None:
        self.service = metrics.service
        self.charges = Counter(
            "myshop_payment_charges_total",
            "chargePayment calls by outcome: captured, declined, provider_unavailable, replayed (known key).",
            ["service", "outcome"],
            registry=metrics.registry,
        )
        self.refunds = Counter(
            "myshop_payment_refunds_total",
            "refundPayment and refundPaymentPartially calls by outcome: refunded, partially_refunded, "
            "voided (no charge yet), nothing_to_refund, exceeds_payment, replayed (known key), "
            "provider_unavailable.",
            ["service", "outcome"],
            registry=metrics.registry,
        )
        self.provider_seconds = Histogram(
            "myshop_payment_provider_seconds",
            "Payment provider call duration, by operation (charge, refund, refund_partially) and result "
            "(ok, unavailable).",
            ["service", "operation", "result"],
            registry=metrics.registry,
            buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60),
        )

    def charge(self, outcome: str) -> None:
        self.charges.labels(self.service, outcome).inc()

    def refund(self, outcome: str) -> None:
        self.refunds.labels(self.service, outcome).inc()

    def provider_call(self, operation: str, result: str, seconds: float) -> None:
        self.provider_seconds.labels(self.service, operation, result).observe(seconds)
