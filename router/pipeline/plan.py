"""Stage: normalize the operation and plan it (router/planner/), cached by (query text, operation name, active
override labels: router/supergraph/overrides.py, each combination planned once): a query seen before is
neither normalized nor planned again, and one not seen before is planned in a worker thread
(plan_off_loop()). An operation the caller may not read all of (router/pipeline/authorization.py) is
planned without what it may not read, keyed by the rules denied too; the client's operation is still the one
shaped."""

from __future__ import annotations

import asyncio

from cachetools import LRUCache
from graphql import GraphQLSchema, OperationDefinitionNode

from router.pipeline.document import ColdWork, PreparedDocument
from router.pipeline.normalize import normalize
from router.planner import PlanningError, QueryPlan, build_plan
from router.planner.operation import Operation
from router.supergraph.model import AccessRule, Supergraph
from router.supergraph.overrides import NO_LABELS, labelled_view

PlanKey = tuple[str, str | None, frozenset[str], frozenset[AccessRule]]
NO_DENIALS: frozenset[AccessRule] = frozenset()


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
        self._planning: dict[PlanKey, asyncio.Future[tuple[Operation, QueryPlan]]] = {}
        # The supergraph as each set of active override labels shows it (the set itself without labels).
        self._views: dict[frozenset[str], Supergraph] = {NO_LABELS: labelled_view(supergraph, NO_LABELS)}

    async def plan_off_loop(
        self,
        query: str,
        operation_name: str | None,
        prepared: PreparedDocument,
        node: OperationDefinitionNode,
        cold: ColdWork | None,
        labels: frozenset[str] = NO_LABELS,
        denied: frozenset[AccessRule] = NO_DENIALS,
        restricted: Operation | None = None,
    ) -> tuple[Operation, QueryPlan]:
        """plan(), an operation not seen before planned in a worker thread (`cold`; on the loop without
        one). Requests for an operation already being planned wait for that plan (a new query sent by
        many clients at once is planned once), each shielded from the others' cancellation. `restricted`: the
        operation to plan instead of the client's, what the `denied` rules leave of it."""
        key = (query, operation_name, labels, denied)
        cache = self._cache
        if cold is None or cache is None or key in cache or key in self._failed:
            return self.plan(query, operation_name, prepared, node, labels, denied, restricted)
        pending = self._planning.get(key)
        if pending is not None:
            self.hits += 1
            return await asyncio.shield(pending)
        self.misses += 1
        pending = self._planning[key] = asyncio.ensure_future(
            self._plan_cold(key, cold, node, prepared, restricted)
        )
        pending.add_done_callback(lambda _: self._planning.pop(key, None))
        return await asyncio.shield(pending)

    async def _plan_cold(
        self,
        key: PlanKey,
        cold: ColdWork,
        node: OperationDefinitionNode,
        prepared: PreparedDocument,
        restricted: Operation | None,
    ) -> tuple[Operation, QueryPlan]:
        try:
            planned = await cold.run(self._build, node, prepared, key[2], restricted)
        except PlanningError as exc:
            self._failed[key] = str(exc)
            raise
        if self._cache is not None:
            self._cache[key] = planned
        return planned

    def _build(
        self,
        node: OperationDefinitionNode,
        prepared: PreparedDocument,
        labels: frozenset[str],
        restricted: Operation | None = None,
    ) -> tuple[Operation, QueryPlan]:
        operation = normalize(self.schema, node, prepared.fragments)
        view = self._views.get(labels)
        if view is None:  # at most one per combination of the supergraph's labels
            view = self._views[labels] = labelled_view(self.supergraph, labels)
        return operation, build_plan(view, restricted if restricted is not None else operation)

    def plan(
        self,
        query: str,
        operation_name: str | None,
        prepared: PreparedDocument,
        node: OperationDefinitionNode,
        labels: frozenset[str] = NO_LABELS,
        denied: frozenset[AccessRule] = NO_DENIALS,
        restricted: Operation | None = None,
    ) -> tuple[Operation, QueryPlan]:
        """The normalized operation and its plan (of `restricted` when given); raises
        router.planner.PlanningError."""
        key = (query, operation_name, labels, denied)
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
                self.hits += 1
                return cached
        self.misses += 1
        planned = self._build(node, prepared, labels, restricted)
        if cache is not None:
            cache[key] = planned
        return planned

    def lookup(
        self,
        query: str,
        operation_name: str | None,
        labels: frozenset[str] = NO_LABELS,
        denied: frozenset[AccessRule] = NO_DENIALS,
    ) -> tuple[Operation, QueryPlan] | None:
        """The plan of an operation planned before (the hot path: no await), else None."""
        cache = self._cache
        if cache is None:
            return None
        try:
            planned = cache[
                query, operation_name, labels, denied
            ]  # not cache.get(): one Python call fewer per request
        except KeyError:
            return None
        self.hits += 1
        return planned

    def cached(
        self,
        query: str,
        operation_name: str | None = None,
        labels: frozenset[str] = NO_LABELS,
        denied: frozenset[AccessRule] = NO_DENIALS,
    ) -> bool:
        return self._cache is not None and (query, operation_name, labels, denied) in self._cache
