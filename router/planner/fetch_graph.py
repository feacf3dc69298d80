"""Fetch groups: what one request to one subgraph selects, at which response path, after which
other requests. The traversal fills them; ``build_plan`` turns them into plan nodes."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field, replace

from router.planner.aliasing import alias_type_conflicts
from router.planner.nodes import (
    Condition,
    ContextRewrite,
    Fetch,
    Flatten,
    Parallel,
    PlanNode,
    Sequence,
    Subscription,
)
from router.planner.operation import Condition as Cond
from router.planner.reachability import PlanningError
from router.planner.selections import OutFragment, SelectionSet
from router.supergraph.model import Supergraph


@dataclass(slots=True, eq=False)
class FetchGroup:
    id: int
    graph: str
    path: tuple[str, ...]  # response path of the entities ("@" for list items); () at the root
    is_entity: bool
    selection: SelectionSet = field(default_factory=SelectionSet)
    inputs: SelectionSet = field(default_factory=SelectionSet)
    deps: set[FetchGroup] = field(default_factory=set)
    conditions: tuple[Cond, ...] = ()
    variables: set[str] = field(default_factory=set)
    # representation type condition -> the @interfaceObject name the subgraph knows it by
    interface_objects: dict[str, str] = field(default_factory=dict)
    mutation_index: int = -1  # order of a mutation's root fetch
    # Further paths this (merged) entity fetch serves; see FetchGraph._merge_concurrent.
    more_paths: tuple[tuple[str, ...], ...] = ()
    # @fromContext arguments (router/planner/context.py): how each entity's value is found; variable -> type.
    context_rewrites: list[ContextRewrite] = field(default_factory=list)
    context_variables: dict[str, str] = field(default_factory=dict)

    def __hash__(self) -> int:
        return self.id

    def depends_on(self, other: FetchGroup) -> bool:
        """Whether this group runs after ``other`` (directly or through others)."""
        stack = list(self.deps)
        seen: set[int] = set()
        while stack:
            group = stack.pop()
            if group is other:
                return True
            if group.id in seen:
                continue
            seen.add(group.id)
            stack.extend(group.deps)
        return False


class FetchGraph:
    def __init__(self, supergraph: Supergraph, kind: str) -> None:
        self.supergraph = supergraph
        self.kind = kind
        self.groups: list[FetchGroup] = []

    def new_group(
        self, graph: str, path: tuple[str, ...], is_entity: bool, conditions: tuple[Cond, ...] = ()
    ) -> FetchGroup:
        group = FetchGroup(len(self.groups), graph, path, is_entity, conditions=conditions)
        self.groups.append(group)
        return group

    def root_group(self, graph: str) -> FetchGroup:
        for group in self.groups:
            if not group.is_entity and group.graph == graph:
                return group
        return self.new_group(graph, (), False)

    def entity_group(
        self,
        graph: str,
        path: tuple[str, ...],
        deps: set[FetchGroup],
        conditions: tuple[Cond, ...],
        accepts: Callable[[FetchGroup], bool] | None = None,
    ) -> FetchGroup:
        """A group for ``graph`` at ``path`` after ``deps``: an existing one when that makes no cycle
        (and ``accepts`` it)."""
        for group in self.groups:
            if not group.is_entity or group.graph != graph or group.path != path:
                continue
            if group.conditions != conditions:
                continue
            if accepts is not None and not accepts(group):
                continue
            if any(dep is group or dep.depends_on(group) for dep in deps):
                continue
            group.deps |= deps
            return group
        group = self.new_group(graph, path, True, conditions)
        group.deps |= deps
        return group

    # -- plan building -------------------------------------------------------------------------

    def fetch_node(self, group: FetchGroup, variable_types: dict[str, str]) -> PlanNode:
        service = self.supergraph.subgraph_name(group.graph)
        parent = self._root_type() if not group.is_entity else None
        renames = alias_type_conflicts(group.selection, parent or "", group.graph, self.supergraph)
        used = tuple(v for v in variable_types if v in group.variables)
        definitions = ",".join(f"${v}:{variable_types[v]}" for v in used)
        if group.context_variables:
            contextual = ",".join(f"${v}:{t}" for v, t in group.context_variables.items())
            definitions = f"{definitions},{contextual}" if definitions else contextual
        if group.is_entity:
            head = "query($representations:[_Any!]!" + ("," + definitions if definitions else "") + ")"
            body = "{_entities(representations:$representations)" + group.selection.print_compact() + "}"
            operation = head + body
        else:
            kind = (
                "mutation"
                if self.kind == "mutation"
                else ("subscription" if self.kind == "subscription" else "query")
            )
            head = kind + (f"({definitions})" if definitions else "")
            operation = (head if head != "query" else "") + group.selection.print_compact()
        fetch = Fetch(
            service=service,
            graph=group.graph,
            selection=group.selection,
            operation=operation,
            operation_kind=self.kind if not group.is_entity else "query",
            variable_usages=used,
            requires=group.inputs if group.is_entity else None,
            interface_objects=dict(group.interface_objects),
            id=group.id,
            renames=renames,
            context_rewrites=tuple(group.context_rewrites),
        )
        node: PlanNode = Flatten(group.path, fetch, group.more_paths) if group.is_entity else fetch
        return node

    def _root_type(self) -> str:
        sg = self.supergraph
        if self.kind == "mutation":
            return sg.mutation_type or "Mutation"
        if self.kind == "subscription":
            return sg.subscription_type or "Subscription"
        return sg.query_type or "Query"

    def build(self, variable_types: dict[str, str]) -> PlanNode | None:
        groups = [g for g in self.groups if g.selection]
        if not groups:
            return None
        if self.kind == "mutation":
            return self._build_mutation(groups, variable_types)
        if self.kind == "subscription":
            return self._build_subscription(groups, variable_types)
        return self._build_from(groups, [g for g in groups if not g.deps], variable_types)

    def build_resumed(self, variable_types: dict[str, str]) -> PlanNode | None:
        """The plan of a deferred part, which resumes from data already fetched (router/planner/defer.py):
        the groups that select something, those waiting on none of them first."""
        groups = [g for g in self.groups if g.selection]
        if not groups:
            return None
        members = set(groups)
        roots = [g for g in groups if not any(d in members for d in g.deps)]
        return self._build_from(groups, roots, variable_types)

    def _build_mutation(self, groups: list[FetchGroup], variable_types: dict[str, str]) -> PlanNode:
        roots = sorted((g for g in groups if not g.is_entity), key=lambda g: g.mutation_index)
        steps: list[PlanNode] = []
        for root in roots:
            owned = [g for g in groups if g is root or (g.is_entity and g.depends_on(root))]
            node = self._build_from(owned, [root], variable_types)
            if node is not None:
                steps.append(node)
        return steps[0] if len(steps) == 1 else Sequence(steps)

    def _build_subscription(self, groups: list[FetchGroup], variable_types: dict[str, str]) -> PlanNode:
        """One subscription stream per event source: the root field's fetch is the stream, every other
        group completes each event it delivers."""
        roots = [g for g in groups if not g.is_entity]
        if len(roots) != 1:
            raise PlanningError("a subscription must select exactly one root field, from one subgraph")
        primary = self.fetch_node(roots[0], variable_types)
        assert isinstance(primary, Fetch)
        rest = [g for g in groups if g.is_entity]
        members = set(rest)
        first = [g for g in rest if not any(d in members for d in g.deps)]
        return Subscription(primary, self._build_from(rest, first, variable_types) if rest else None)

    def _build_from(
        self, groups: list[FetchGroup], roots: list[FetchGroup], variable_types: dict[str, str]
    ) -> PlanNode | None:
        groups, roots = self._merge_concurrent(groups, roots)
        members = set(groups)
        children: dict[FetchGroup, list[FetchGroup]] = {g: [] for g in groups}
        tree = True
        for group in groups:
            deps = [d for d in group.deps if d in members]
            if len(deps) > 1:
                tree = False
            for dep in deps:
                children[dep].append(group)
        if tree:

            def node_of(group: FetchGroup, inherited: tuple[Cond, ...]) -> PlanNode:
                own = self.fetch_node(group, variable_types)
                kids = [node_of(c, group.conditions) for c in children[group]]
                if len(kids) == 1 and isinstance(kids[0], Sequence):
                    own = Sequence([own, *kids[0].nodes])  # a sequence in a sequence reads as one
                elif kids:
                    own = Sequence([own, kids[0] if len(kids) == 1 else Parallel(kids)])
                return self._conditioned(group, own, inherited)

            nodes = [node_of(r, ()) for r in roots]
            return nodes[0] if len(nodes) == 1 else Parallel(nodes)
        # A group waiting on several others: run level by level.
        level: dict[FetchGroup, int] = {}

        def level_of(group: FetchGroup) -> int:
            if group not in level:
                deps = [d for d in group.deps if d in members]
                level[group] = 1 + max((level_of(d) for d in deps), default=-1)
            return level[group]

        by_level: dict[int, list[PlanNode]] = {}
        for group in groups:
            by_level.setdefault(level_of(group), []).append(
                self._conditioned(group, self.fetch_node(group, variable_types), ())
            )
        steps = [nodes[0] if len(nodes) == 1 else Parallel(nodes) for _, nodes in sorted(by_level.items())]
        return steps[0] if len(steps) == 1 else Sequence(steps)

    # -- merging concurrent entity fetches -------------------------------------------------------

    def _merge_concurrent(
        self, groups: list[FetchGroup], roots: list[FetchGroup]
    ) -> tuple[list[FetchGroup], list[FetchGroup]]:
        """Entity fetches to one subgraph that start together become one fetch: one ``_entities`` call
        over the representations found at all their paths (the executor sends a representation once).

        They start together when they are on the same level of a plan run level by level, or, in a plan
        that is a tree, when they wait for the same fetch. They merge only when nothing changes for any
        entity: the same conditions, and per entity type the same representation and the same selection
        (different object types may differ; an abstract type condition must match exactly)."""
        members = set(groups)
        deps_of = {g: frozenset(d for d in g.deps if d in members) for g in groups}
        tree = all(len(deps) <= 1 for deps in deps_of.values())
        level: dict[FetchGroup, int] = {}

        def level_of(group: FetchGroup) -> int:
            if group not in level:
                level[group] = 1 + max((level_of(d) for d in deps_of[group]), default=-1)
            return level[group]

        buckets: dict[tuple, list[list[FetchGroup]]] = {}
        for group in groups:
            if not group.is_entity:
                continue
            key = (group.graph, group.conditions, level_of(group), deps_of[group] if tree else None)
            clusters = buckets.setdefault(key, [])
            for cluster in clusters:
                if all(self._mergeable(other, group) for other in cluster):
                    cluster.append(group)
                    break
            else:
                clusters.append([group])
        merged: dict[FetchGroup, FetchGroup] = {}
        for clusters in buckets.values():
            for cluster in clusters:
                if len(cluster) > 1:
                    one = self._merged(cluster)
                    merged.update((g, one) for g in cluster)
        if not merged:
            return groups, roots
        # New groups (the fetch graph itself stays as planned), depending on the merged ones.
        new: dict[FetchGroup, FetchGroup] = {g: merged.get(g) or replace(g, deps=set()) for g in groups}
        for group in groups:
            target = new[group]
            target.deps |= {new.get(d, d) for d in group.deps}
            target.deps.discard(target)
        out = list(dict.fromkeys(new[g] for g in groups))
        return out, list(dict.fromkeys(new[r] for r in roots))

    def _merged(self, cluster: list[FetchGroup]) -> FetchGroup:
        first = cluster[0]
        group = FetchGroup(first.id, first.graph, first.path, True, conditions=first.conditions)
        group.more_paths = tuple(p for p in dict.fromkeys(g.path for g in cluster) if p != first.path)
        for member in cluster:
            group.selection.merge(member.selection)
            group.inputs.merge(member.inputs)
            group.variables |= member.variables
            group.interface_objects.update(member.interface_objects)
        return group

    def _mergeable(self, a: FetchGroup, b: FetchGroup) -> bool:
        if a.context_rewrites or b.context_rewrites:
            return False  # context values are found relative to one path
        if any(a.interface_objects.get(k, v) != v for k, v in b.interface_objects.items()):
            return False
        return self._same_per_type(a.inputs, b.inputs) and self._same_per_type(a.selection, b.selection)

    def _same_per_type(self, a: SelectionSet, b: SelectionSet) -> bool:
        """Whether two entity selections (``... on T`` at the top) agree on every type they share."""
        for x in a.items.values():
            for y in b.items.values():
                if not isinstance(x, OutFragment) or not isinstance(y, OutFragment):
                    return False
                if x.directives or y.directives:
                    return False
                if x.type_condition == y.type_condition:
                    if x.sub.print_compact() != y.sub.print_compact():
                        return False
                elif not (self._object(x.type_condition) and self._object(y.type_condition)):
                    return False  # may overlap: an interface and one of its objects
        return True

    def _object(self, name: str | None) -> bool:
        info = self.supergraph.types.get(name) if name is not None else None
        return info is not None and info.kind == "object"

    @staticmethod
    def _conditioned(group: FetchGroup, node: PlanNode, inherited: tuple[Cond, ...]) -> PlanNode:
        for variable, expected in reversed(group.conditions):
            if (variable, expected) in inherited:
                continue
            node = Condition(variable, node, None) if expected else Condition(variable, None, node)
        return node
