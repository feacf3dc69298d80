"""The products service's own Prometheus metrics, on the process's registry (`GET /metrics`)."""

from __future__ import annotations

from prometheus_client import Counter

from shared.metrics import Metrics


class ProductsMetrics:
    def __init__(self, metrics: Metrics) -> None:
        registry = metrics.registry
        reads = Counter(
            "myshop_products_cache_reads_total",
            "Products read by id, by where they came from: hit (Redis), miss (PostgreSQL, then cached), "
            "bypass (PostgreSQL: the cache is off or Redis unavailable).",
            ["result"],
            registry=registry,
        )
        self.cache_hits, self.cache_misses, self.cache_bypassed = (
            reads.labels(result) for result in ("hit", "miss", "bypass")
        )
        invalidations = Counter(
            "myshop_products_cache_invalidations_total",
            "Cache entries dropped, by source: event (a consumed ProductUpdated) or request (after its "
            "commit).",
            ["source"],
            registry=registry,
        )
        self.cache_invalidated = {source: invalidations.labels(source) for source in ("event", "request")}
        self.cache_stale_writes_skipped = Counter(
            "myshop_products_cache_stale_writes_skipped_total",
            "Rows read from PostgreSQL not cached because the product was invalidated during the read.",
            registry=registry,
        )
        self.cache_unavailable = Counter(
            "myshop_products_cache_unavailable_total",
            "Cache operations that failed (Redis down or slow) and fell back to PostgreSQL.",
            registry=registry,
        )
        self.activity_dropped = Counter(
            "myshop_products_activity_dropped_total",
            "Searches not reported to analytics because the batch was full.",
            registry=registry,
        )
