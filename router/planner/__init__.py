"""Query planning: from a normalized operation and the supergraph, a printable plan of fetches
(router/pipeline/plan.py caches the plans)."""

from __future__ import annotations

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
