"""Query planning: from a normalized operation and the supergraph, a printable plan of fetches."""

from __future__ import annotations

from collections import OrderedDict

from router.planner.nodes import (
    Condition,
    Fetch,
    Flatten,
    Parallel,
    PlanNode,
    QueryPlan,
    Sequence,
    Subscription,
)
from router.planner.operation import Operation
from router.planner.traversal import PlanningError, Traversal
from router.supergraph.model import Supergraph

__all__ = [
    "Condition",
    "Fetch",
    "Flatten",
    "Parallel",
    "PlanNode",
    "PlanningError",
    "QueryPlan",
    "QueryPlanner",
    "Sequence",
    "Subscription",
    "build_plan",
]


def build_plan(supergraph: Supergraph, operation: Operation) -> QueryPlan:
    fetch_graph = Traversal(supergraph, operation).plan()
    introspection = any(
        getattr(s, "name", "") in ("__schema", "__type") for s in _root_fields(operation.selections)
    )
    return QueryPlan(fetch_graph.build(operation.variable_types), introspection)


def _root_fields(selections: list) -> list:
    out = []
    for selection in selections:
        if hasattr(selection, "name"):
            out.append(selection)
        else:
            out.extend(_root_fields(selection.selections))
    return out


class QueryPlanner:
    """Plans operations, remembering the last ``cache_size`` plans by (document, operation name)."""

    def __init__(self, supergraph: Supergraph, cache_size: int = 1000) -> None:
        self.supergraph = supergraph
        self.cache_size = cache_size
        self._cache: OrderedDict[tuple[str, str | None], QueryPlan] = OrderedDict()

    def plan(self, key: tuple[str, str | None], operation: Operation) -> QueryPlan:
        cached = self._cache.get(key)
        if cached is not None:
            self._cache.move_to_end(key)
            return cached
        plan = build_plan(self.supergraph, operation)
        if self.cache_size > 0:
            self._cache[key] = plan
            if len(self._cache) > self.cache_size:
                self._cache.popitem(last=False)
        return plan
