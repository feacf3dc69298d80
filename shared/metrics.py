"""Prometheus metrics of a MyShop process (one registry per process, served at `GET /metrics`)."""

from __future__ import annotations

import weakref
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    generate_latest,
)

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
ASGIApp = Callable[
    [Scope, Callable[[], Awaitable[Message]], Callable[[Message], Awaitable[None]]], Awaitable[None]
]


class Metrics:
    """The metrics every service exports; services add their own on `registry`."""

    def __init__(self, service: str) -> None:
        self.service = service
        self.registry = CollectorRegistry(auto_describe=True)
        self.http_requests = Counter(
            "myshop_http_requests_total",
            "HTTP requests served, by route and status.",
            ["service", "method", "route", "status"],
            registry=self.registry,
        )
        self.http_duration = Histogram(
            "myshop_http_request_duration_seconds",
            "HTTP request duration, by route.",
            ["service", "method", "route"],
            registry=self.registry,
            buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10),
        )
        self.graphql_operations = Counter(
            "myshop_graphql_operations_total",
            "GraphQL operations executed, by type and outcome (ok, error).",
            ["service", "operation_type", "outcome"],
            registry=self.registry,
        )
        self.graphql_errors = Counter(
            "myshop_graphql_errors_total",
            "GraphQL errors returned, by extensions.code.",
            ["service", "code"],
            registry=self.registry,
        )

    def render(self) -> tuple[bytes, str]:
        return generate_latest(self.registry), CONTENT_TYPE_LATEST


class ConsumerMetrics:
    """The consumers' Prometheus metrics, created once per registry."""

    _by_registry: weakref.WeakKeyDictionary[CollectorRegistry, ConsumerMetrics] = weakref.WeakKeyDictionary()

    def __init__(self, registry: CollectorRegistry) -> None:
        self.lag = Gauge(
            "myshop_consumer_lag",
            "Stream entries not yet delivered to the consumer group (XINFO GROUPS lag).",
            ["group", "stream"],
            registry=registry,
        )
        self.processed = Counter(
            "myshop_consumer_processed_total",
            "Events applied by a consumer group (committed), by event type.",
            ["group", "type"],
            registry=registry,
        )
        self.failed = Counter(
            "myshop_consumer_failed_total",
            "Handler failures (each attempt that raised), by event type.",
            ["group", "type"],
            registry=registry,
        )
        self.dead_lettered = Counter(
            "myshop_consumer_dead_lettered_total",
            "Events moved to the dead-letter stream after their last attempt, by event type.",
            ["group", "type"],
            registry=registry,
        )

    @classmethod
    def on(cls, registry: CollectorRegistry) -> ConsumerMetrics:
        metrics = cls._by_registry.get(registry)
        if metrics is None:
            metrics = cls._by_registry[registry] = cls(registry)
        return metrics
