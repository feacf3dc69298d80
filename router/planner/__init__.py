"""Query planning: from a normalized operation and the supergraph, a printable plan of fetches
(router/pipeline/plan.py caches the plans)."""

from __future__ import annotations

from router.planner.defer import plan_deferred, select_defer
from router.planner.nodes import (
    Condition,
    Defer,
    Deferred,
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
    "Defer",
    "Deferred",
    "Fetch",
    "Flatten",
    "Parallel",
    "PlanNode",
    "PlanningError",
    "QueryPlan",
    "Sequence",
    "Subscription",
    "build_plan",
    "select_defer",
]


def build_plan(supergraph: Supergraph, operation: Operation) -> QueryPlan:
    fetch_graph = Traversal(supergraph, operation).plan()
    introspection = any(
        getattr(s, "name", "") in ("__schema", "__type") for s in _root_fields(operation.selections)
    )
    plan = QueryPlan(fetch_graph.build(operation.variable_types), introspection)
    if operation.defers and operation.kind == "query":
        # The parts a client taking incremental delivery gets; every other client gets `node`, whole.
        plan.deferred = plan_deferred(supergraph, operation)
    return plan


def _root_fields(selections: list) -> list:
    out = []
    for selection in selections:
        if hasattr(selection, "name"):
            out.append(selection)
        else:
            out.extend(_root_fields(selection.selections))
    return out
