"""The router's metrics: HTTP requests, GraphQL operations and fetches, subscriptions; counted in plain dicts
on the hot path and turned into Prometheus families only when `/metrics` is scraped (prometheus_client's
labelled children cost several µs per request).

Same names and labels as every MyShop service (shared.metrics), so one dashboard reads them all.
"""

from __future__ import annotations

from bisect import bisect_left
from collections.abc import Callable, Iterator

from prometheus_client import CollectorRegistry
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, HistogramMetricFamily, Metric
from prometheus_client.registry import Collector

BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)
# Operation costs (demand control) span orders of magnitude: Apollo Router's suggested buckets.
COST_BUCKETS = (0.0, 10.0, 100.0, 1000.0, 10_000.0, 100_000.0, 1_000_000.0)


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


class GraphQLMetrics(Collector):
    """The router's GraphQL metrics: operations by type and outcome, errors by code, request and subgraph
    fetch latencies, fetch errors by subgraph and code, plan-cache hits and misses, and gauges read at scrape
    time (`add_gauge`: open subscriptions, ...). Counted in plain dicts like RequestMetrics; labels that come
    from outside (error codes) are capped."""

    def __init__(self, service: str, registry: CollectorRegistry, *, max_series: int = 200) -> None:
        self.service = service
        self.max_series = max_series
        self.operations: dict[tuple[str, str], int] = {}
        self.errors: dict[str, int] = {}
        self.durations: dict[str, list[float]] = {}
        self.fetch_durations: dict[str, list[float]] = {}
        self.fetch_errors: dict[tuple[str, str], int] = {}
        # () -> (hits, misses) of the plan cache, set when a gateway is attached; counts of replaced gateways
        # carry over so the counters never go down.
        self.plan_cache: Callable[[], tuple[int, int]] | None = None
        self._plan_cache_base = (0, 0)
        self._gauges: dict[str, tuple[str, Callable[[], float]]] = {}
        # Demand control (router/pipeline/cost.py): estimated costs by result (COST_OK,
        # COST_ESTIMATED_TOO_EXPENSIVE, ...), counts of results, actual costs; empty while it is off.
        self.cost_estimated: dict[str, list[float]] = {}
        self.cost_results: dict[str, int] = {}
        self.cost_actual: list[float] | None = None
        registry.register(self)

    def observe_operation(self, operation_type: str, outcome: str, seconds: float) -> None:
        key = (operation_type, outcome)
        self.operations[key] = self.operations.get(key, 0) + 1
        series = self.durations.get(operation_type)
        if series is None:
            series = self.durations[operation_type] = [0.0] * (len(BUCKETS) + 2)
        series[bisect_left(BUCKETS, seconds)] += 1
        series[-1] += seconds

    def count_error(self, code: str) -> None:
        errors = self.errors
        if code not in errors and len(errors) >= self.max_series:
            code = "OTHER"
        errors[code] = errors.get(code, 0) + 1

    def observe_fetch(self, subgraph: str, seconds: float) -> None:
        series = self.fetch_durations.get(subgraph)
        if series is None:
            series = self.fetch_durations[subgraph] = [0.0] * (len(BUCKETS) + 2)
        series[bisect_left(BUCKETS, seconds)] += 1
        series[-1] += seconds

    def count_fetch_error(self, subgraph: str, code: str) -> None:
        key = (subgraph, code)
        errors = self.fetch_errors
        if key not in errors and len(errors) >= self.max_series:
            key = (subgraph, "OTHER")
        errors[key] = errors.get(key, 0) + 1

    def observe_estimated_cost(self, estimated: float | None, result: str) -> None:
        """An operation's estimated cost and what demand control made of it (None: it could not be priced)."""
        self.cost_results[result] = self.cost_results.get(result, 0) + 1
        if estimated is None:
            return
        series = self.cost_estimated.get(result)
        if series is None:
            series = self.cost_estimated[result] = [0.0] * (len(COST_BUCKETS) + 2)
        series[bisect_left(COST_BUCKETS, estimated)] += 1
        series[-1] += estimated

    def observe_actual_cost(self, actual: float) -> None:
        """The actual cost of an answer the router returned."""
        series = self.cost_actual
        if series is None:
            series = self.cost_actual = [0.0] * (len(COST_BUCKETS) + 2)
        series[bisect_left(COST_BUCKETS, actual)] += 1
        series[-1] += actual

    def watch_plan_cache(self, read: Callable[[], tuple[int, int]]) -> None:
        if self.plan_cache is not None:
            hits, misses = self.plan_cache()
            self._plan_cache_base = (self._plan_cache_base[0] + hits, self._plan_cache_base[1] + misses)
        self.plan_cache = read

    def add_gauge(self, name: str, documentation: str, read: Callable[[], float]) -> None:
        """A gauge whose value `read()` gives at each scrape, labelled with the service."""
        self._gauges[name] = (documentation, read)

    def collect(self) -> Iterator[Metric]:
        service = self.service
        operations = CounterMetricFamily(
            "myshop_graphql_operations",
            "GraphQL operations executed, by type and outcome (ok, error, rejected, failed).",
            labels=["service", "operation_type", "outcome"],
        )
        for (operation_type, outcome), count in self.operations.items():
            operations.add_metric([service, operation_type, outcome], count)
        yield operations
        errors = CounterMetricFamily(
            "myshop_graphql_errors",
            "GraphQL errors returned, by extensions.code.",
            labels=["service", "code"],
        )
        for code, count in self.errors.items():
            errors.add_metric([service, code], count)
        yield errors
        yield _histogram(
            "myshop_graphql_request_duration_seconds",
            "GraphQL request duration, by operation type.",
            ["service", "operation_type"],
            {(service, kind): series for kind, series in self.durations.items()},
        )
        yield _histogram(
            "myshop_subgraph_fetch_duration_seconds",
            "Duration of the router's fetches, by subgraph.",
            ["service", "subgraph"],
            {(service, subgraph): series for subgraph, series in self.fetch_durations.items()},
        )
        fetch_errors = CounterMetricFamily(
            "myshop_subgraph_fetch_errors",
            "Failed subgraph fetches (SUBREQUEST_HTTP_ERROR, SUBREQUEST_TIMEOUT, ...) and the errors "
            "subgraphs answered, by subgraph and code.",
            labels=["service", "subgraph", "code"],
        )
        for (subgraph, code), count in self.fetch_errors.items():
            fetch_errors.add_metric([service, subgraph, code], count)
        yield fetch_errors
        plans = CounterMetricFamily(
            "myshop_router_plan_cache_lookups",
            "Query plan cache lookups, by result (hit, miss).",
            labels=["service", "result"],
        )
        hits, misses = self.plan_cache() if self.plan_cache is not None else (0, 0)
        plans.add_metric([service, "hit"], hits + self._plan_cache_base[0])
        plans.add_metric([service, "miss"], misses + self._plan_cache_base[1])
        yield plans
        yield from self._collect_costs()
        for name, (documentation, read) in self._gauges.items():
            gauge = GaugeMetricFamily(name, documentation, labels=["service"])
            gauge.add_metric([service], read())
            yield gauge

    def _collect_costs(self) -> Iterator[Metric]:
        service = self.service
        yield _histogram(
            "myshop_router_operation_cost_estimated",
            "Estimated cost of operations (demand control, from @cost/@listSize), by result (COST_OK, "
            "COST_ESTIMATED_TOO_EXPENSIVE).",
            ["service", "result"],
            {(service, result): series for result, series in self.cost_estimated.items()},
            COST_BUCKETS,
        )
        results = CounterMetricFamily(
            "myshop_router_operation_cost_results",
            "Operations demand control priced, by result (COST_OK, COST_ESTIMATED_TOO_EXPENSIVE, "
            "COST_QUERY_PARSE_FAILURE); in measure mode an operation over the limit still runs.",
            labels=["service", "result"],
        )
        for result, count in self.cost_results.items():
            results.add_metric([service, result], count)
        yield results
        actual = {} if self.cost_actual is None else {(service,): self.cost_actual}
        yield _histogram(
            "myshop_router_operation_cost_actual",
            "Actual cost of the answers the router returned (demand control, priced like the estimate).",
            ["service"],
            actual,
            COST_BUCKETS,
        )

    def describe(self) -> Iterator[Metric]:
        return iter(())


def _histogram(
    name: str,
    documentation: str,
    labels: list[str],
    data: dict[tuple[str, ...], list[float]],
    bounds: tuple[float, ...] = BUCKETS,
) -> HistogramMetricFamily:
    family = HistogramMetricFamily(name, documentation, labels=labels)
    for values, series in data.items():
        cumulative = 0.0
        buckets = []
        for bound, count in zip((*bounds, float("inf")), series[:-1], strict=True):
            cumulative += count
            buckets.append((_bound(bound), cumulative))
        family.add_metric(list(values), buckets, series[-1])
    return family


class SubscriptionMetrics(Collector):
    """Open subscriptions, events delivered and subscriptions ended, by transport; counted in plain ints on
    the hot path and turned into Prometheus families when scraped."""

    ENDED_REASONS = ("complete", "client", "error", "connection_lost", "slow_consumer", "disconnect")

    def __init__(self, registry: CollectorRegistry | None = None) -> None:
        self.open: dict[str, int] = {"websocket": 0, "sse": 0, "multipart": 0}
        self.delivered: dict[str, int] = {"websocket": 0, "sse": 0, "multipart": 0}
        self.ended: dict[tuple[str, str], int] = {}
        if registry is not None:
            registry.register(self)

    def opened(self, transport: str) -> None:
        self.open[transport] += 1

    def closed(self, transport: str, reason: str) -> None:
        self.open[transport] -= 1
        key = (transport, reason)
        self.ended[key] = self.ended.get(key, 0) + 1

    def collect(self) -> Iterator[Metric]:
        open_ = GaugeMetricFamily(
            "myshop_router_subscriptions_open", "Subscriptions open now, by transport.", labels=["transport"]
        )
        for transport, count in self.open.items():
            open_.add_metric([transport], count)
        yield open_
        delivered = CounterMetricFamily(
            "myshop_router_subscription_events",
            "Subscription events sent to clients, by transport.",
            labels=["transport"],
        )
        for transport, count in self.delivered.items():
            delivered.add_metric([transport], count)
        yield delivered
        ended = CounterMetricFamily(
            "myshop_router_subscriptions_ended",
            "Subscriptions ended, by transport and reason.",
            labels=["transport", "reason"],
        )
        for (transport, reason), count in self.ended.items():
            ended.add_metric([transport, reason], count)
        yield ended

    def describe(self) -> Iterator[Metric]:
        return iter(())


class UpstreamSubscriptionMetrics(Collector):
    """The router's subscriptions to the subgraphs (router/execution/shared_subscriptions.py): open now and
    the clients they serve, by subgraph (read at scrape time); opened, and clients that joined one already
    open (the deduplicated ones), counted."""

    def __init__(
        self,
        read: Callable[[], dict[str, tuple[int, int]]],
        opened: dict[str, int],
        joined: dict[str, int],
    ) -> None:
        self.read = read
        self.opened = opened
        self.joined = joined

    def collect(self) -> Iterator[Metric]:
        counts = self.read()
        upstreams = GaugeMetricFamily(
            "myshop_router_subscription_upstreams_open",
            "Subscriptions the router holds open on subgraphs now, by subgraph.",
            labels=["subgraph"],
        )
        clients = GaugeMetricFamily(
            "myshop_router_subscription_upstream_clients",
            "Client subscriptions served by the open subgraph subscriptions, by subgraph.",
            labels=["subgraph"],
        )
        for subgraph in sorted(set(counts) | set(self.opened)):
            open_, served = counts.get(subgraph, (0, 0))
            upstreams.add_metric([subgraph], open_)
            clients.add_metric([subgraph], served)
        yield upstreams
        yield clients
        opened = CounterMetricFamily(
            "myshop_router_subscription_upstreams_opened",
            "Subscriptions the router opened on subgraphs, by subgraph.",
            labels=["subgraph"],
        )
        for subgraph, count in self.opened.items():
            opened.add_metric([subgraph], count)
        yield opened
        joined = CounterMetricFamily(
            "myshop_router_subscription_upstream_joins",
            "Client subscriptions that joined a subgraph subscription already open (deduplicated), by "
            "subgraph.",
            labels=["subgraph"],
        )
        for subgraph, count in self.joined.items():
            joined.add_metric([subgraph], count)
        yield joined

    def describe(self) -> Iterator[Metric]:
        return iter(())
