"""The router's request metrics, counted in plain dicts on the hot path and turned into Prometheus families
only when `/metrics` is scraped (prometheus_client's labelled children cost several µs per request).

Same names and labels as every MyShop service (shared.metrics), so one dashboard reads them all.
"""

from __future__ import annotations

from bisect import bisect_left
from collections.abc import Iterator

from prometheus_client import CollectorRegistry
from prometheus_client.core import CounterMetricFamily, HistogramMetricFamily, Metric
from prometheus_client.registry import Collector

BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)


class RequestMetrics(Collector):
    """Requests by (method, route, status) and their durations by (method, route).

    Only touched from the event loop's thread (requests and scrapes alike), so no lock.
    """

    def __init__(self, service: str, registry: CollectorRegistry, *, max_series: int = 1000) -> None:
        self.service = service
        self.max_series = max_series
        self.counts: dict[tuple[str, str, str], int] = {}
        # (method, route) -> [count per bucket (+Inf last)..., sum]
        self.durations: dict[tuple[str, str], list[float]] = {}
        registry.register(self)

    def observe(self, method: str, route: str, status: int, seconds: float) -> None:
        key = (method, route, str(status))
        counts = self.counts
        if key in counts:
            counts[key] += 1
        elif len(counts) < self.max_series:
            counts[key] = 1
        else:  # methods and statuses come from clients and apps: cap the series
            key = ("OTHER", route, "other")
            counts[key] = counts.get(key, 0) + 1
        series = self.durations.get((method, route))
        if series is None:
            if len(self.durations) >= self.max_series:
                method = "OTHER"
            series = self.durations.setdefault((method, route), [0.0] * (len(BUCKETS) + 2))
        series[bisect_left(BUCKETS, seconds)] += 1
        series[-1] += seconds

    def collect(self) -> Iterator[Metric]:
        requests = CounterMetricFamily(
            "myshop_http_requests",
            "HTTP requests served, by route and status.",
            labels=["service", "method", "route", "status"],
        )
        for (method, route, status), count in self.counts.items():
            requests.add_metric([self.service, method, route, status], count)
        yield requests
        durations = HistogramMetricFamily(
            "myshop_http_request_duration_seconds",
            "HTTP request duration, by route.",
            labels=["service", "method", "route"],
        )
        for (method, route), series in self.durations.items():
            cumulative = 0.0
            buckets = []
            for bound, count in zip((*BUCKETS, float("inf")), series[:-1], strict=True):
                cumulative += count
                buckets.append((_bound(bound), cumulative))
            durations.add_metric([self.service, method, route], buckets, series[-1])
        yield durations

    def describe(self) -> Iterator[Metric]:
        return iter(())


def _bound(value: float) -> str:
    return "+Inf" if value == float("inf") else repr(value)
