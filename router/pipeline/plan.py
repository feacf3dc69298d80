"""Stage: normalize the operation and plan it (router/planner/), cached by (query text, operation name): a
query seen before is neither normalized nor planned again, and one not seen before is planned in a worker
thread (warm())."""

from __future__ import annotations

import asyncio

from cachetools import LRUCache
from graphql import GraphQLSchema, OperationDefinitionNode

from router.pipeline.document import DocumentStages, PreparedDocument
from router.pipeline.errors import RequestError
from router.pipeline.normalize import normalize
from router.pipeline.select import select_operation
from router.planner import PlanningError, QueryPlan, build_plan
from router.planner.operation import Operation
from router.supergraph.model import Supergraph

PlanKey = tuple[str, str | None]


class PlanStage:
    def __init__(self, schema: GraphQLSchema, supergraph: Supergraph, cache_size: int) -> None:
        self.schema = schema
        self.supergraph = supergraph
        self._cache: LRUCache[PlanKey, tuple[Operation, QueryPlan]] | None = (
            LRUCache(cache_size) if cache_size > 0 else None
        )
        self.hits = self.misses = 0
        # Operations that cannot be planned, so a retry does not plan them again on the loop.
        self._failed: LRUCache[PlanKey, str] = LRUCache(max(cache_size, 1))
        self._warmed: PlanKey | None = None  # planned by warm() just now: not a cache hit
        self._warming: dict[PlanKey, asyncio.Future[None]] = {}

    async def warm(self, documents: DocumentStages, query: str | None, operation_name: str | None) -> None:
        """Prepares and plans an operation not seen before in a worker thread (router/pipeline/document.py's
        ColdWork), caching what plan() will ask for; whatever fails is left for the stages to report.
        Requests for an operation already being warmed wait for that work (a new query sent by many
        clients at once is prepared once), each shielded from the others' cancellation."""
        key = (query or "", operation_name)
        if query is None or self._cache is None or documents.cold is None:
            return
        if (key in self._cache or key in self._failed) and documents.cached(query):
            return  # warm (the plan cached, and its document not evicted since)
        pending = self._warming.get(key)
        if pending is None:
            pending = self._warming[key] = asyncio.ensure_future(self._warm(documents, query, key))
            pending.add_done_callback(lambda _: self._warming.pop(key, None))
        await asyncio.shield(pending)

    async def _warm(self, documents: DocumentStages, query: str, key: PlanKey) -> None:
        assert self._cache is not None and documents.cold is not None
        operation_name = key[1]
        prepared = await documents.prepare_off_loop(query)
        if prepared.errors or prepared.document is None or key in self._cache or key in self._failed:
            return
        try:
            node = select_operation(prepared.document, operation_name)
        except RequestError:
            return
        try:
            planned = await documents.cold.run(self._build, node, prepared)
        except PlanningError as exc:
            self._failed[key] = str(exc)
            return
        self.misses += 1
        self._cache[key] = planned
        self._warmed = key

    def _build(
        self, node: OperationDefinitionNode, prepared: PreparedDocument
    ) -> tuple[Operation, QueryPlan]:
        operation = normalize(self.schema, node, prepared.fragments)
        return operation, build_plan(self.supergraph, operation)

    def plan(
        self,
        query: str,
        operation_name: str | None,
        prepared: PreparedDocument,
        node: OperationDefinitionNode,
    ) -> tuple[Operation, QueryPlan]:
        """The normalized operation and its plan; raises router.planner.PlanningError."""
        key = (query, operation_name)
        cache = self._cache
        failed = self._failed.get(key)
        if failed is not None:
            raise PlanningError(failed)  # a new one: raising the same again would grow its traceback
        if cache is not None:
            try:
                cached = cache[key]
            except KeyError:
                pass
            else:
                warmed, self._warmed = self._warmed == key, None
                self.hits += not warmed
                return cached
        self.misses += 1
        planned = self._build(node, prepared)
        if cache is not None:
            cache[key] = planned
        return planned

    def cached(self, query: str, operation_name: str | None = None) -> bool:
        return self._cache is not None and (query, operation_name) in self._cache
