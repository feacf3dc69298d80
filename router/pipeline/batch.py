"""Query batching, for the HTTP door (router/http/graphql.py): a POST body that is a JSON array of GraphQL
requests (Apollo Client's `BatchHttpLink`) is answered by an array in the same order. Each entry is its own
GraphQLRequest through the whole pipeline (edge: persisted query, auth, rate limit, CSRF; then parse, bound,
validate, cost, plan, execute), run concurrently up to `concurrency`, and isolated: an entry refused or
failing answers its own `{errors}` and never fails the others. The batch as a whole is refused (400, coded)
only when the body is not a batch we take: batching off, empty, too large, or an entry that is not an
object."""

from __future__ import annotations

import asyncio
import re
from collections.abc import Awaitable, Callable, Iterator
from typing import Any

from prometheus_client import CollectorRegistry
from prometheus_client.core import CounterMetricFamily, HistogramMetricFamily, Metric
from prometheus_client.registry import Collector
from pydantic import BaseModel, Field

from router.pipeline.errors import MalformedRequest, RequestError, error

BATCHING_NOT_ENABLED = "BATCHING_NOT_ENABLED"
BATCH_TOO_LARGE = "BATCH_TOO_LARGE"
BATCH_EMPTY = "BATCH_EMPTY"
BATCH_ENTRY_INVALID = "BATCH_ENTRY_INVALID"
# An entry that would stream (a subscription, @defer): a batch answers one array, so nothing can stream.
BATCH_ENTRY_CANNOT_STREAM = "BATCH_ENTRY_CANNOT_STREAM"

# `@defer` anywhere in the text refuses the entry before it is parsed: cheap, and a false positive (the
# word in a string argument or a comment) only costs that client sending the entry alone.
_DEFER = re.compile(r"@defer\b")
_SIZE_BUCKETS = (1, 2, 3, 5, 10, 20, 50, 100)


class BatchingConfig(BaseModel):
    """`batching:` in router.yaml. Off by default, as in Apollo Router: one HTTP request then costs at most
    one operation, which is what the body-size limit and the proxies in front assume. MyShop's router.yaml
    turns it on for its own clients."""

    enabled: bool = False
    # Entries in one batch; more answers 400 BATCH_TOO_LARGE before any of them runs.
    max_size: int = Field(10, ge=1, le=1000)
    # Entries of one batch running at once (the rest wait): one batch cannot take the whole router.
    concurrency: int = Field(4, ge=1, le=100)


class BatchMetrics(Collector):
    """Batches answered and their sizes (each entry is also counted as an operation by the telemetry)."""

    def __init__(self, registry: CollectorRegistry | None = None) -> None:
        self.batches = 0
        self.operations = 0
        self.sizes = [0] * (len(_SIZE_BUCKETS) + 1)
        if registry is not None:
            registry.register(self)

    def observe(self, size: int) -> None:
        self.batches += 1
        self.operations += size
        for index, bound in enumerate(_SIZE_BUCKETS):
            if size <= bound:
                self.sizes[index] += 1
                return
        self.sizes[-1] += 1

    def collect(self) -> Iterator[Metric]:
        buckets: list[tuple[str, float]] = []
        cumulative = 0
        for bound, count in zip((*map(str, _SIZE_BUCKETS), "+Inf"), self.sizes, strict=True):
            cumulative += count
            buckets.append((bound, cumulative))
        sizes = HistogramMetricFamily(
            "myshop_router_batch_size", "Operations per query batch (one HTTP request)."
        )
        sizes.add_metric([], buckets, sum_value=self.operations)
        yield sizes
        operations = CounterMetricFamily(
            "myshop_router_batched_operations", "Operations that came in a query batch."
        )
        operations.add_metric([], self.operations)
        yield operations

    def describe(self) -> Iterator[Metric]:
        return iter(())


def batch_entries(params: list[Any], config: BatchingConfig) -> list[dict[str, Any]]:
    """The entries of a batch body, or MalformedRequest (400, coded) for a batch that cannot run at all."""
    if not config.enabled:
        raise MalformedRequest.of("query batching is not enabled on this router", BATCHING_NOT_ENABLED)
    if not params:
        raise MalformedRequest.of("a batch needs at least one request", BATCH_EMPTY)
    if len(params) > config.max_size:
        raise MalformedRequest.of(
            f"a batch holds at most {config.max_size} requests, not {len(params)}", BATCH_TOO_LARGE
        )
    for index, entry in enumerate(params):
        if not isinstance(entry, dict):
            message = f"batch entry {index} is not a JSON object"
            raise MalformedRequest([error(message, BATCH_ENTRY_INVALID, batchIndex=index)])
    return params


async def run_batch(
    entries: list[dict[str, Any]],
    run: Callable[[dict[str, Any]], Awaitable[dict[str, Any]]],
    concurrency: int,
) -> list[dict[str, Any]]:
    """Each entry's answer, in order; `run` answers one entry or raises RequestError (its own answer)."""
    gate = asyncio.Semaphore(concurrency)

    async def one(entry: dict[str, Any]) -> dict[str, Any]:
        query = entry.get("query")
        if isinstance(query, str) and _DEFER.search(query):
            message = "@defer cannot run in a batch; send it alone"
            return {"errors": [error(message, BATCH_ENTRY_CANNOT_STREAM)]}
        async with gate:
            try:
                return await run(entry)
            except RequestError as refused:
                return {"errors": refused.errors}

    return list(await asyncio.gather(*(one(entry) for entry in entries)))
