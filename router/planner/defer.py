"""@defer planning: the operation without its deferred fragments (plus the keys they resume from) is the
primary part, and each deferred fragment a part of its own whose plan runs against the primary's merged data:
an entity fetch at the fragment's path (on the subgraph resolving most of it, even the one that fetched the
parent), further jumps from there; a fragment on the root type is a plan of its own. A deferred fragment
with nothing to resume from (a value type without a key) is answered with its parent instead, as the
incremental delivery spec allows. `@defer(if: $v)` plans both ways under a Condition."""

from __future__ import annotations

import itertools
from dataclasses import dataclass, replace
from typing import Any

from router.planner.nodes import Condition, Defer, Deferred, Fetch, Flatten, Parallel, PlanNode, Sequence
from router.planner.operation import Condition as Cond
from router.planner.operation import Field, Fragment, Operation, Selection
from router.planner.reachability import PlanningError, Reachability
from router.planner.selections import parse_field_set, tree_into
from router.planner.traversal import Ctx, Traversal
from router.supergraph.model import Supergraph

# `if` variables planned both ways; a fragment deferred under a further variable is answered with its parent.
_MAX_VARIABLES = 4

# Where a deferred part resumes: (subgraph, the type its representations name, the key).
Entry = tuple[str, str, str]


@dataclass(slots=True)
class _Found:
    fragment: Fragment
    parent_type: str  # the type of the objects at `path`
    type: str  # the fragment's own (its type condition, else the parent's)
    path: tuple[str, ...]
    conditions: tuple[Cond, ...]
    entry: Entry | None  # None: a fragment on the root type


def plan_deferred(supergraph: Supergraph, operation: Operation) -> PlanNode | None:
    """The plan answering `operation` in parts, or None when no fragment ends up deferred (or the parts
    cannot be planned: the operation is then answered whole)."""
    try:
        return _DeferPlanner(supergraph, operation).plan()
    except PlanningError:
        return None


def select_defer(node: PlanNode | None, variables: dict[str, Any]) -> Defer | None:
    """The Defer a request's `if` variables choose, or None: nothing is deferred, answer whole."""
    while isinstance(node, Condition):
        node = node.if_clause if variables.get(node.variable) else node.else_clause
    return node if isinstance(node, Defer) else None


class _DeferPlanner(Reachability):
    def __init__(self, supergraph: Supergraph, operation: Operation) -> None:
        super().__init__(supergraph)
        self.operation = operation
        self._ids = itertools.count()
        self._assignment: dict[str, bool] = {}

    def plan(self) -> PlanNode | None:
        variables = sorted(_if_variables(self.operation.selections))[:_MAX_VARIABLES]
        return self._variant(variables)

    def _variant(self, pending: list[str]) -> PlanNode | None:
        if pending:
            variable, rest = pending[0], pending[1:]
            self._assignment[variable] = True
            then = self._variant(rest)
            self._assignment[variable] = False
            otherwise = self._variant(rest)
            del self._assignment[variable]
            if then is None and otherwise is None:
                return None
            return Condition(variable, then, otherwise)
        op = self.operation
        node, shape, blocks = self._part(op.selections, op.root_type, (), None)
        if not blocks:
            return None
        return Defer(node, shape, blocks, _print(shape))

    def _part(
        self, selections: list[Selection], type_name: str, path: tuple[str, ...], entry: Entry | None
    ) -> tuple[PlanNode | None, list[Selection], list[Deferred]]:
        """A part's plan, its selections for the shaper, and the parts deferred within it."""
        shape, planned, found = self._split(selections, type_name, path, ())
        node = self._resume(planned, type_name, path, entry) if entry else self._root(planned)
        blocks = []
        for item in found:
            depends = self._depends(node, item.path)  # numbered before the parts nested in it
            inner, inner_shape, nested = self._part(
                item.fragment.selections, item.type, item.path, item.entry
            )
            fragment = Fragment(item.fragment.type_condition, item.fragment.conditions, inner_shape)
            blocks.append(
                Deferred(
                    path=item.path,
                    label=item.fragment.defer.label if item.fragment.defer else None,
                    parent_type=item.parent_type,
                    selections=[fragment],
                    node=Defer(inner, inner_shape, nested) if nested else inner,
                    conditions=item.conditions,
                    depends=depends,
                    subselection=_print(inner_shape),
                )
            )
        return node, shape, blocks

    # -- the selections of a part ----------------------------------------------------------------

    def _deferred(self, fragment: Fragment) -> bool:
        defer = fragment.defer
        if defer is None:
            return False
        return defer.variable is None or self._assignment.get(defer.variable, False)

    def _split(
        self, selections: list[Selection], type_name: str, path: tuple[str, ...], conditions: tuple[Cond, ...]
    ) -> tuple[list[Selection], list[Selection], list[_Found]]:
        """(what the part shapes, what its plan fetches: that and the keys its deferred fragments resume
        from, the deferred fragments found)."""
        shape: list[Selection] = []
        planned: list[Selection] = []
        found: list[_Found] = []
        for selection in selections:
            if isinstance(selection, Field):
                if selection.selections is None:
                    shape.append(selection)
                    planned.append(selection)
                    continue
                below = path + (selection.response_key,) + ("@",) * selection.list_depth
                s, p, f = self._split(
                    selection.selections, selection.type_name, below, conditions + selection.conditions
                )
                shape.append(replace(selection, selections=s))
                planned.append(replace(selection, selections=p))
                found.extend(f)
                continue
            inner = selection.type_condition or type_name
            inner_conditions = conditions + selection.conditions
            if self._deferred(selection):
                root = not path and type_name == self.operation.root_type
                entry = None if root else self._entry(inner, selection)
                if root or entry is not None:
                    found.append(_Found(selection, type_name, inner, path, inner_conditions, entry))
                    if entry is not None:
                        keys = self.field_set_selections(
                            inner, {"__typename": None, **parse_field_set(entry[2])}
                        )
                        planned.append(Fragment(selection.type_condition, selection.conditions, keys))
                    continue
            s, p, f = self._split(selection.selections, inner, path, inner_conditions)
            shape.append(replace(selection, selections=s, defer=None))
            planned.append(replace(selection, selections=p, defer=None))
            found.extend(f)
        return shape, planned, found

    def _entry(self, type_name: str, fragment: Fragment) -> Entry | None:
        """The subgraph a deferred fragment on `type_name` resumes in: of those resolving the type by a key,
        the one resolving most of the fragment's fields (ties by subgraph order); None without a key."""
        best: tuple[int, int, str] | None = None
        names = _field_names(fragment.selections)
        for graph in self.sg.subgraphs:
            if not self._entity_keys(type_name, graph):
                continue
            resolved = 0
            for name in names:
                info = self.sg.field(type_name, name)
                if info is not None and graph in info.resolvers:
                    resolved += 1
            candidate = (-resolved, self._graph_order[graph], graph)
            if best is None or candidate < best:
                best = candidate
        if best is None:
            return None
        key_type, key = self._entity_keys(type_name, best[2])[0]
        return best[2], key_type, key

    # -- the plans of a part ---------------------------------------------------------------------

    def _root(self, selections: list[Selection]) -> PlanNode | None:
        op = replace(self.operation, selections=selections, defers=False)
        return Traversal(self.sg, op).plan().build(op.variable_types)

    def _resume(
        self, selections: list[Selection], type_name: str, path: tuple[str, ...], entry: Entry
    ) -> PlanNode | None:
        """A part's plan from the objects at `path`, which hold `entry`'s key: an entity fetch there first,
        then what it cannot resolve, as the traversal jumps from any fetch."""
        graph, key_type, key = entry
        op = replace(self.operation, selections=[], defers=False)
        traversal = Traversal(self.sg, op)
        fetch_graph = traversal.fetch_graph
        before = fetch_graph.new_group(graph, (), False)  # the data already there: selects nothing
        group = fetch_graph.new_group(graph, path, True)
        group.deps.add(before)
        represented = type_name if self.sg.types[type_name].kind == "object" else key_type
        representation = group.inputs.add_fragment(represented)
        representation.add_typename()
        tree_into(representation, parse_field_set(key))
        if self.sg.types[key_type].is_interface_object_in(graph):
            group.interface_objects[represented] = key_type
        out = group.selection.add_fragment(key_type)
        known = parse_field_set(key)
        ctx = Ctx(group, out, key_type, path, None, (), None, 1, known, key_type, out)
        traversal.visit(ctx, selections)
        return fetch_graph.build_resumed(op.variable_types)

    def _depends(self, node: PlanNode | None, path: tuple[str, ...]) -> tuple[int, ...]:
        """The fetches of `node` a part at `path` resumes from: those reaching deepest along its path."""
        if not path or node is None:
            return ()
        target = tuple(p for p in path if p != "@")
        best: list[Fetch] = []
        depth = -1
        for fetch, fetch_path in _fetches(node):
            steps = tuple(p for p in fetch_path if p != "@")
            if steps != target[: len(steps)]:
                continue
            if not steps and not any(
                getattr(i, "response_key", None) == target[0] for i in fetch.selection.items.values()
            ):
                continue
            if len(steps) > depth:
                best, depth = [fetch], len(steps)
            elif len(steps) == depth:
                best.append(fetch)
        for fetch in best:
            if fetch.defer_id is None:
                fetch.defer_id = next(self._ids)
        return tuple(sorted(f.defer_id for f in best if f.defer_id is not None))


def _fetches(node: PlanNode | None) -> list[tuple[Fetch, tuple[str, ...]]]:
    """Every fetch of `node` with the response paths it writes at (the root's is ())."""
    if node is None:
        return []
    if isinstance(node, Fetch):
        return [(node, ())]
    if isinstance(node, Flatten):
        return [(node.node, path) for path in node.paths]
    if isinstance(node, (Sequence, Parallel)):
        return [item for child in node.nodes for item in _fetches(child)]
    if isinstance(node, Condition):
        return _fetches(node.if_clause) + _fetches(node.else_clause)
    return []


def _if_variables(selections: list[Selection] | None) -> set[str]:
    found: set[str] = set()
    for selection in selections or ():
        if isinstance(selection, Fragment) and selection.defer is not None and selection.defer.variable:
            found.add(selection.defer.variable)
        found |= _if_variables(selection.selections)
    return found


def _field_names(selections: list[Selection]) -> list[str]:
    """The fields a fragment selects on its own object (through fragments without a type condition)."""
    out: list[str] = []
    for selection in selections:
        if isinstance(selection, Field):
            out.append(selection.name)
        elif selection.type_condition is None:
            out.extend(_field_names(selection.selections))
    return out


def _print(selections: list[Selection]) -> str:
    """Selections on one line, as Apollo prints a part's subselection: `{ t { x } }`."""
    parts = []
    for selection in selections:
        if isinstance(selection, Field):
            text = (f"{selection.alias}: " if selection.alias else "") + selection.name + selection.arguments
            if selection.selections is not None:
                text += " " + _print(selection.selections)
        else:
            text = "..." + (f" on {selection.type_condition}" if selection.type_condition else "")
            text += " " + _print(selection.selections)
        parts.append(text)
    return "{ " + " ".join(parts) + " }" if parts else "{}"
