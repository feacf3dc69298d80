"""The resilient subgraph client: router/upstream/transport.py's HTTP shaped by a circuit breaker per
subgraph, retries of failed query fetches (exponential backoff, full jitter, within the request's time), and
one shared fetch for identical queries in flight at once. Its counters are Prometheus families built only when
`/metrics` is scraped (the hot path touches plain ints).

A failure is a transient one (router/upstream/transport.py: refused, reset, timed out, a 5xx without a GraphQL
body); a subgraph that answers, even with GraphQL errors or a 4xx, has not failed.
"""

from __future__ import annotations

import asyncio
import logging
import random
import time
import weakref
from collections.abc import Callable, Iterator, Mapping
from functools import partial
from typing import Any

import orjson
from prometheus_client import CollectorRegistry
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from router.plugins import PluginChain
from router.upstream.headers import HeaderPropagation
from router.upstream.hooks import after_fetch, before_fetch
from router.upstream.traffic_config import BreakerConfig, SubgraphTrafficConfig
from router.upstream.transport import SubgraphFetchError, SubgraphTimeoutError, SubgraphTransport

logger = logging.getLogger(__name__)

CLOSED, OPEN, HALF_OPEN = 0, 1, 2
STATE_NAMES = ("closed", "open", "half_open")
# What `Breaker.admit` answers when the fetch may not go.
REFUSED = -1


class SubgraphUnavailable(SubgraphFetchError):
    """The subgraph's circuit breaker is open: the fetch was not sent."""

    code = "SUBGRAPH_UNAVAILABLE"
    transient = False


class Breaker:
    """Closed: fetches go, failures in a row are counted. Open: nothing goes until the cool-down has passed.
    Half-open: one probe goes; its success closes the breaker, its failure opens it again.

    Only touched from the event loop's thread, so no lock.
    """

    __slots__ = (
        "clock",
        "config",
        "failures",
        "first_failure",
        "name",
        "opened_at",
        "probing",
        "short_circuited",
        "state",
        "transitions",
    )

    def __init__(self, name: str, config: BreakerConfig, clock: Callable[[], float] = time.monotonic) -> None:
        self.name = name
        self.config = config
        self.clock = clock
        self.state = CLOSED
        self.failures = 0
        self.first_failure = 0.0
        self.opened_at = 0.0
        self.probing = False
        self.short_circuited = 0
        self.transitions = [0, 0, 0]  # by the state moved to

    def admit(self) -> int:
        """The state the fetch goes under (CLOSED, or HALF_OPEN for the probe), or REFUSED."""
        state = self.state
        if state == CLOSED:
            return CLOSED
        if state == OPEN:
            if self.clock() - self.opened_at < self.config.cooldown:
                self.short_circuited += 1
                return REFUSED
            self._move(HALF_OPEN)
        if self.probing:
            self.short_circuited += 1
            return REFUSED
        self.probing = True
        return HALF_OPEN

    def succeeded(self, admitted: int) -> None:
        if admitted == HALF_OPEN:
            self.probing = False
            self.failures = 0
            self._move(CLOSED)
        elif self.state == CLOSED:
            self.failures = 0

    def failed(self, admitted: int) -> None:
        now = self.clock()
        if admitted == HALF_OPEN:
            self.probing = False
            self.opened_at = now
            self._move(OPEN)
            return
        if self.state != CLOSED or not self.config.enabled:
            return  # a fetch sent before the breaker opened: the outcome that counts is the probe's
        if self.failures == 0 or now - self.first_failure > self.config.window:
            self.failures, self.first_failure = 1, now
        else:
            self.failures += 1
        if self.failures >= self.config.failures:
            self.opened_at = now
            self._move(OPEN)

    def released(self, admitted: int) -> None:
        """The fetch ended with neither outcome (cancelled): a probe's turn goes to the next fetch."""
        if admitted == HALF_OPEN:
            self.probing = False

    def _move(self, state: int) -> None:
        self.state = state
        self.transitions[state] += 1
        if state == OPEN:
            logger.warning(
                "circuit breaker for subgraph %s opened: fetches fail at once for %g s",
                self.name,
                self.config.cooldown,
            )
        else:
            logger.info("circuit breaker for subgraph %s is %s", self.name, STATE_NAMES[state])


class _Subgraph:
    __slots__ = ("breaker", "config", "deduplicated", "name", "retries", "timeouts")

    def __init__(self, name: str, config: SubgraphTrafficConfig) -> None:
        self.name = name
        self.config = config
        self.breaker = Breaker(name, config.breaker)
        self.deduplicated = 0
        self.retries = 0
        self.timeouts = 0


class ResilientSubgraphClient:
    """The router's subgraph client (router/upstream/client.py's SubgraphClient): each request's headers
    from router.yaml's rules, then breaker, retries and deduplication around the transport."""

    def __init__(
        self,
        transport: SubgraphTransport,
        headers: HeaderPropagation,
        configs: Mapping[str, SubgraphTrafficConfig],
        names: Mapping[str, str],
        *,
        ignored_headers: frozenset[str] = frozenset(),
    ) -> None:
        """`headers`' rules, `configs` and `names` (the subgraph's name, for logs and metrics) by graph."""
        self.transport = transport
        self.headers = headers
        self.subgraphs = {graph: _Subgraph(names[graph], configs[graph]) for graph in transport.urls}
        self._ignored = frozenset(name.lower() for name in ignored_headers)
        # router.yaml's plugins with subgraph hooks, set by router/server.py; None: none (no hook runs).
        self.plugins: PluginChain | None = None
        # In-flight fetches another caller joined, noted only with plugins: each caller's subgraph-response
        # hooks then get their own copy of the answer (router/upstream/hooks.py).
        self._joined: weakref.WeakSet[asyncio.Task[Any]] = weakref.WeakSet()
        # (graph, request body, headers that matter) -> the fetch every caller of that key awaits.
        self._in_flight: dict[tuple[str, bytes, tuple[tuple[str, str], ...]], asyncio.Task[Any]] = {}

    async def post(
        self,
        graph: str,
        body: dict[str, Any],
        headers: Mapping[str, str] | None = None,
        *,
        mutation: bool = False,
        deadline: float | None = None,
    ) -> dict[str, Any]:
        """The subgraph's GraphQL answer; SubgraphFetchError (or a subclass naming why) when there is none.
        `deadline` (the event loop's clock) is when the request's time is up: no retry waits past it."""
        subgraph = self.subgraphs[graph]
        request_headers = self.headers.for_subgraph(graph, headers)
        plugged = None
        if self.plugins is not None:  # router.yaml's subgraph hooks (router/upstream/hooks.py)
            # Before the body is serialized and the dedup key made: their changes count in both.
            plugged = await before_fetch(
                self.plugins, subgraph.name, body, request_headers, mutation=mutation
            )
        data = orjson.dumps(body)
        if mutation or not subgraph.config.deduplicate:
            payload = await self._attempts(subgraph, graph, data, request_headers, mutation, deadline)
            if plugged is not None:
                return await after_fetch(self.plugins, plugged, payload, False)  # type: ignore[arg-type]
            return payload
        ignored = self._ignored
        # The header rules name every header in lower case (router/upstream/headers.py).
        key = (
            graph,
            data,
            tuple(sorted([item for item in request_headers.items() if item[0] not in ignored])),
        )
        task = self._in_flight.get(key)
        if task is None:
            task = asyncio.create_task(
                self._attempts(subgraph, graph, data, request_headers, False, deadline)
            )
            self._in_flight[key] = task
            task.add_done_callback(partial(self._landed, key))
        else:
            subgraph.deduplicated += 1
            if self.plugins is not None:
                self._joined.add(task)
        # Shielded: one caller's request timing out must not cancel the fetch the others wait for.
        payload = await asyncio.shield(task)
        if plugged is not None:
            # Every caller has joined by now: the answer is in hand, its key gone from `_in_flight`.
            shared = task in self._joined
            return await after_fetch(self.plugins, plugged, payload, shared)  # type: ignore[arg-type]
        return payload

    def _landed(self, key: tuple[str, bytes, tuple[tuple[str, str], ...]], task: asyncio.Task[Any]) -> None:
        if self._in_flight.get(key) is task:
            del self._in_flight[key]
        if not task.cancelled():
            task.exception()  # retrieved, even when every caller has gone: no "never retrieved" warning

    async def _attempts(
        self,
        subgraph: _Subgraph,
        graph: str,
        data: bytes,
        headers: Mapping[str, str],
        mutation: bool,
        deadline: float | None,
    ) -> dict[str, Any]:
        breaker = subgraph.breaker
        config = subgraph.config
        attempt = 0
        while True:
            admitted = breaker.admit()
            if admitted == REFUSED:
                raise SubgraphUnavailable(
                    f"the circuit breaker is open after {breaker.config.failures} failures in a row; "
                    f"the next try goes within {breaker.config.cooldown:g} s"
                )
            try:
                payload = await self.transport.send(graph, data, headers)
            except SubgraphFetchError as error:
                if not error.transient:
                    breaker.succeeded(admitted)  # it answered, just not with GraphQL
                    raise
                breaker.failed(admitted)
                if isinstance(error, SubgraphTimeoutError):
                    subgraph.timeouts += 1
                if mutation or attempt >= config.retries or breaker.state != CLOSED:
                    raise
                delay = random.uniform(0.0, config.retry_backoff * (2**attempt))
                if deadline is not None and asyncio.get_running_loop().time() + delay >= deadline:
                    raise
                attempt += 1
                subgraph.retries += 1
                if delay:
                    await asyncio.sleep(delay)
                continue
            except BaseException:
                breaker.released(admitted)
                raise
            breaker.succeeded(admitted)
            return payload

    def register_metrics(self, registry: CollectorRegistry) -> None:
        registry.register(ResilienceMetrics(self))

    async def close(self) -> None:
        in_flight = list(self._in_flight.values())
        for task in in_flight:
            task.cancel()
        await asyncio.gather(*in_flight, return_exceptions=True)
        await self.transport.close()


class ResilienceMetrics(Collector):
    """Breaker states and moves, short-circuited, deduplicated, retried and timed-out fetches, by subgraph."""

    def __init__(self, client: ResilientSubgraphClient) -> None:
        self.client = client

    def collect(self) -> Iterator[Metric]:
        subgraphs = list(self.client.subgraphs.values())
        state = GaugeMetricFamily(
            "myshop_router_subgraph_breaker_state",
            "A subgraph's circuit breaker: 0 closed, 1 open, 2 half-open.",
            labels=["service", "subgraph"],
        )
        transitions = CounterMetricFamily(
            "myshop_router_subgraph_breaker_transitions",
            "Circuit breaker moves, by the state moved to.",
            labels=["service", "subgraph", "state"],
        )
        counters = {
            "short_circuited": CounterMetricFamily(
                "myshop_router_subgraph_short_circuited",
                "Fetches failed at once because the subgraph's breaker was open.",
                labels=["service", "subgraph"],
            ),
            "deduplicated": CounterMetricFamily(
                "myshop_router_subgraph_deduplicated",
                "Query fetches answered by an identical fetch already in flight.",
                labels=["service", "subgraph"],
            ),
            "retries": CounterMetricFamily(
                "myshop_router_subgraph_retries",
                "Query fetches sent again after a transient failure.",
                labels=["service", "subgraph"],
            ),
            "timeouts": CounterMetricFamily(
                "myshop_router_subgraph_timeouts",
                "Fetch attempts that got no answer within the subgraph's timeout.",
                labels=["service", "subgraph"],
            ),
        }
        for subgraph in subgraphs:
            breaker = subgraph.breaker
            labels = ["router", subgraph.name]
            state.add_metric(labels, breaker.state)
            for index, name in enumerate(STATE_NAMES):
                transitions.add_metric([*labels, name], breaker.transitions[index])
            counters["short_circuited"].add_metric(labels, breaker.short_circuited)
            counters["deduplicated"].add_metric(labels, subgraph.deduplicated)
            counters["retries"].add_metric(labels, subgraph.retries)
            counters["timeouts"].add_metric(labels, subgraph.timeouts)
        yield state
        yield transitions
        yield from counters.values()

    def describe(self) -> Iterator[Metric]:
        return iter(())
