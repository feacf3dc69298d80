"""Stage: normalize the operation and plan it (router/planner/), cached by (query text, operation name): a
query seen before is neither normalized nor planned again."""

from __future__ import annotations

from cachetools import LRUCache
from graphql import GraphQLSchema, OperationDefinitionNode

from router.pipeline.document import PreparedDocument
from router.pipeline.normalize import normalize
from router.planner import QueryPlan, build_plan
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
        if cache is not None:
            try:
                cached = cache[key]
            except KeyError:
                pass
            else:
                self.hits += 1
                return cached
        self.misses += 1
        operation = normalize(self.schema, node, prepared.fragments)
        planned = (operation, build_plan(self.supergraph, operation))
        if cache is not None:
            cache[key] = planned
        return planned

    def cached(self, query: str, operation_name: str | None = None) -> bool:
        return self._cache is not None and (query, operation_name) in self._cache
