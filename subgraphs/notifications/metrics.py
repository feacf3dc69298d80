"""The notifications service's own Prometheus metrics, on the process's registry (`GET /metrics`)."""

from __future__ import annotations

from prometheus_client import Counter

from shared.metrics import Metrics


class NotificationsMetrics:
    def __init__(self, metrics: Metrics) -> None:
        registry = metrics.registry
        self.service = metrics.service
        labels = ["service", "kind"]
        self.mails_sent = Counter(
            "myshop_notifications_sent_total", "Mails accepted by the SMTP server.", labels, registry=registry
        )
        self.mails_retried = Counter(
            "myshop_notifications_retried_total",
            "Sends that failed and will be tried again.",
            labels,
            registry=registry,
        )
        self.mails_failed = Counter(
            "myshop_notifications_failed_total",
            "Mails given up (refused for good, or out of tries): FAILED.",
            labels,
            registry=registry,
        )
