"""The planning traversal: walks the client's selections, keeps each field in the subgraph already
fetching its parent when that subgraph resolves it, and otherwise jumps to another subgraph through
``_entities`` (key fields, and @requires fields, fetched first)."""

from __future__ import annotations

from dataclasses import dataclass, replace

from router.planner.context import place_contextual, with_sites
from router.planner.fetch_graph import FetchGraph, FetchGroup
from router.planner.operation import Condition, Field, Fragment, Operation, Selection
from router.planner.reachability import UNREACHABLE, PlanningError, Reachability
from router.planner.selections import (
    FieldSetTree,
    SelectionSet,
    covers,
    merge_trees,
    parse_field_set,
    tree_conflicts,
    tree_into,
)
from router.supergraph.model import Supergraph

_MAX_DEPTH = 64

__all__ = ["PlanningError", "Traversal"]


@dataclass(slots=True, frozen=True)
class Ctx:
    group: FetchGroup
    out: SelectionSet
    type: str
    path: tuple[str, ...]
    provided: FieldSetTree | None = None
    conditions: tuple[Condition, ...] = ()
    sink: set[FetchGroup] | None = None
    depth: int = 0
    # Fields already in the response at this path (the key an entity fetch was entered with).
    known: FieldSetTree | None = None
    known_for: str | None = None  # the type entered with ``known`` (a narrower type needs this fetch)
    # The selection of the object itself (``out`` may be a type condition inside it): one
    # ``__typename`` there serves every type condition.
    level: SelectionSet | None = None
    # The subgraphs that may still resolve this path (None: the group's alone); tracked only in
    # supergraphs with partial unions, whose members planned are those every one of them knows.
    candidates: frozenset[str] | None = None
    # @context sites above (router/planner/context.py): (context, where its object was planned, the types
    # setting it there), nearest last.
    contexts: tuple[tuple[str, Ctx, frozenset[str]], ...] | None = None


def condition_directives(conditions: tuple[Condition, ...]) -> str:
    return " ".join(f"@include(if: ${v})" if keep else f"@skip(if: ${v})" for v, keep in conditions)


class Traversal(Reachability):
    def __init__(self, supergraph: Supergraph, operation: Operation) -> None:
        super().__init__(supergraph)
        self.operation = operation
        self.fetch_graph = FetchGraph(supergraph, operation.kind)

    # -- entry -----------------------------------------------------------------------------------

    def plan(self) -> FetchGraph:
        root = self.operation.root_type
        current: FetchGroup | None = None
        for field, conditions in self._root_fields(self.operation.selections, ()):
            if field.name.startswith("__"):
                continue  # __typename, __schema, __type: answered by the router
            graph = self._choose_root_graph(root, field, current)
            parts = [(graph, field)]
            if self.operation.kind != "mutation" and self._provided_cost(graph, root, field) >= UNREACHABLE:
                parts = self._split_root(root, field)
            for part_graph, part in parts:
                current = self._place_root(root, part, conditions, part_graph, current)
        return self.fetch_graph

    def _split_root(self, root: str, field: Field) -> list[tuple[str, Field]]:
        """A shared root field no subgraph fully resolves: each gets the children it resolves best."""
        info = self.sg.field(root, field.name)
        assert info is not None and field.selections is not None
        per_graph: dict[str, list[Selection]] = {}
        for child in field.selections:
            graph = min(
                info.resolvers,
                key=lambda g: (self._cost(g, field.type_name, [child], None, 0), self._graph_order[g]),
            )
            per_graph.setdefault(graph, []).append(child)
        return [(graph, replace(field, selections=children)) for graph, children in per_graph.items()]

    def _place_root(
        self,
        root: str,
        field: Field,
        conditions: tuple[Condition, ...],
        graph: str,
        current: FetchGroup | None,
    ) -> FetchGroup | None:
        """Puts a root field into its subgraph's fetch; a mutation's fields keep their order."""
        if self.operation.kind == "mutation":
            if current is None or current.graph != graph:
                index = sum(1 for g in self.fetch_graph.groups if not g.is_entity)
                current = self.fetch_graph.new_group(graph, (), False)
                current.mutation_index = index
            group = current
        else:
            group = self.fetch_graph.root_group(graph)
        out = group.selection
        if conditions:
            out = out.add_fragment(None, condition_directives(conditions))
            group.variables.update(v for v, _ in conditions)
        candidates = frozenset(self.sg.subgraphs) if self.partial_unions else None
        ctx = Ctx(group, out, root, (), None, conditions, candidates=candidates)
        self._place_local(with_sites(self.sg, ctx, root), field)
        return current

    def _root_fields(
        self, selections: list[Selection], conditions: tuple[Condition, ...]
    ) -> list[tuple[Field, tuple[Condition, ...]]]:
        out: list[tuple[Field, tuple[Condition, ...]]] = []
        for selection in selections:
            if isinstance(selection, Field):
                out.append((selection, conditions))
            else:
                out.extend(self._root_fields(selection.selections, conditions + selection.conditions))
        return out

    def _choose_root_graph(self, root: str, field: Field, current: FetchGroup | None) -> str:
        info = self.sg.field(root, field.name)
        if info is None or not info.resolvers:
            raise PlanningError(f"no subgraph resolves {root}.{field.name}")
        best: tuple[float, int, str] | None = None
        for graph in info.resolvers:
            if self.operation.kind == "mutation":
                existing = current is not None and current.graph == graph
            else:
                existing = any(not g.is_entity and g.graph == graph for g in self.fetch_graph.groups)
            score = (0 if existing else 1) + self._provided_cost(graph, root, field)
            candidate = (score, self._graph_order[graph], graph)
            if best is None or candidate < best:
                best = candidate
        assert best is not None
        return best[2]

    def _provided_cost(self, graph: str, parent: str, field: Field) -> float:
        if field.selections is None:
            return 0
        join = self.sg.field(parent, field.name)
        provided = None
        if join is not None:
            jf = join.join_for(graph)
            if jf is not None and jf.provides:
                provided = parse_field_set(jf.provides)
        return self._cost(graph, field.type_name, field.selections, provided, 0)

    # -- the walk --------------------------------------------------------------------------------

    def visit(self, ctx: Ctx, selections: list[Selection]) -> None:
        if ctx.depth > _MAX_DEPTH:
            raise PlanningError("the operation cannot be planned: too many subgraph jumps")
        for selection in selections:
            if isinstance(selection, Field):
                self.handle_field(ctx, selection)
            else:
                self.handle_fragment(ctx, selection)

    def _touch(self, ctx: Ctx) -> None:
        if ctx.sink is not None:
            ctx.sink.add(ctx.group)

    def handle_field(self, ctx: Ctx, field: Field) -> None:
        graph = ctx.group.graph
        info = self.sg.types[ctx.type]
        if field.name == "__typename":
            if info.kind == "interface" and info.is_interface_object_in(graph):
                self._jump(ctx, field)
            else:
                self._touch(ctx)
                target = ctx.out
                if field.conditions:
                    target = target.add_fragment(None, condition_directives(field.conditions))
                target.add_typename()
            return
        if field.name.startswith("__"):
            return
        abstract = info.is_abstract and not info.is_interface_object_in(graph)
        if abstract:
            runtime = sorted(self.sg.possible_in(ctx.type, graph))
            if self._local(graph, ctx.type, field.name, ctx.provided) and all(
                self._local(graph, name, field.name, self._provided_for(ctx.provided, name))
                for name in runtime
            ):
                self._place_local(ctx, field)
            elif not runtime:
                # No object type of this subgraph: only an entity jump can answer (or fail to plan).
                self._jump(ctx, field)
            else:
                for name in runtime:
                    out = ctx.out.add_fragment(name)
                    self.handle_field(replace(ctx, out=out, type=name), field)
            return
        if self._local(graph, ctx.type, field.name, ctx.provided):
            self._place_local(ctx, field)
        else:
            self._jump(ctx, field)

    def _place_local(self, ctx: Ctx, field: Field) -> None:
        if self.sg.context_variables and place_contextual(self, ctx, field):
            return  # a @fromContext argument: router/planner/context.py plans the field
        self._touch(ctx)
        group = ctx.group
        directives = condition_directives(field.conditions)
        out_field = ctx.out.add_field(
            field.name, field.alias, field.arguments, directives, field.selections is not None
        )
        group.variables.update(field.variables)
        group.variables.update(v for v, _ in field.conditions)
        if field.selections is None:
            return
        assert out_field.sub is not None
        provided = self._provided_sub(ctx.provided, ctx.type, field.name)
        info = self.sg.field(ctx.type, field.name)
        local_type = field.type_name
        if info is not None:
            jf = info.join_for(group.graph)
            if jf is not None and jf.provides:
                provided = merge_trees(provided, parse_field_set(jf.provides))
            if jf is not None and jf.type:
                # The subgraph may return a narrower type (an object where the supergraph has a union).
                named = jf.type.strip("[]!")
                if named != local_type and named in self.sg.types:
                    local_type = named
        path = ctx.path + (field.response_key,) + ("@",) * field.list_depth
        selections = field.selections
        if (
            ctx.type != self.operation.root_type
            and self._cost(group.graph, field.type_name, selections, provided, 0) >= UNREACHABLE
        ):
            # A shared field whose children this subgraph cannot all reach: the rest comes through
            # another subgraph resolving the same field, reached through the parent entity.
            selections = []
            rest = []
            for child in field.selections:
                if self._cost(group.graph, field.type_name, [child], provided, 0) >= UNREACHABLE:
                    rest.append(child)
                else:
                    selections.append(child)
            if rest and self.sg.types[ctx.type].kind != "union":
                self._jump(
                    replace(ctx, depth=ctx.depth + 1), replace(field, selections=rest), exclude_current=True
                )
        if self.sg.types[field.type_name].is_abstract:
            out_field.sub.add_typename()
        sub = Ctx(
            group,
            out_field.sub,
            local_type,
            path,
            provided,
            ctx.conditions + field.conditions,
            ctx.sink,
            ctx.depth + 1,
            level=out_field.sub,
            contexts=ctx.contexts,
        )
        if self.partial_unions:
            sub = replace(
                sub,
                candidates=self.path_candidates(ctx.type, field, ctx.candidates, group.graph, ctx.provided),
            )
        self.visit(with_sites(self.sg, sub, field.type_name), selections)

    def handle_fragment(self, ctx: Ctx, fragment: Fragment) -> None:
        graph = ctx.group.graph
        parent = ctx.type
        condition = fragment.type_condition or parent
        directives = condition_directives(fragment.conditions)
        conditions = ctx.conditions + fragment.conditions
        if fragment.conditions:
            ctx.group.variables.update(v for v, _ in fragment.conditions)
        info = self.sg.types[parent]
        if condition == parent or (info.kind == "object" and parent in self.sg.runtime_types(condition)):
            out = ctx.out.add_fragment(None, directives) if directives else ctx.out
            self.visit(replace(ctx, out=out, conditions=conditions), fragment.selections)
            return
        if info.kind == "object":
            return  # never matches
        if info.is_interface_object_in(graph):
            self._jump(ctx, fragment)
            return
        candidates = self.sg.runtime_types(condition) & self.possible_on_path(parent, graph, ctx.candidates)
        if not candidates:
            return
        condition_info = self.sg.types[condition]
        if condition_info.kind == "object" or (
            graph in condition_info.graphs
            and not condition_info.is_interface_object_in(graph)
            # The subgraph must know every candidate as implementing the interface, else the
            # fragment misses the objects that implement it only elsewhere.
            and all(condition in self.sg.types[name].implements.get(graph, ()) for name in candidates)
        ):
            out = ctx.out.add_fragment(condition, directives)
            self.visit(replace(ctx, out=out, type=condition, conditions=conditions), fragment.selections)
            return
        for name in sorted(candidates):
            out = ctx.out.add_fragment(name, directives)
            self.visit(replace(ctx, out=out, type=name, conditions=conditions), fragment.selections)

    # -- jumps -----------------------------------------------------------------------------------

    def _jump(self, ctx: Ctx, selection: Selection, exclude_current: bool = False) -> None:
        graph = ctx.group.graph
        target, key_type, key = self._jump_target(ctx, selection)
        requires = (
            self._requires(key_type, ctx.type, selection.name, target)
            if isinstance(selection, Field)
            else None
        )
        inputs = []
        if not covers(ctx.known, parse_field_set(key)):
            inputs = self.field_set_selections(ctx.type, parse_field_set(key))
        if requires:
            inputs += self.field_set_selections(ctx.type, parse_field_set(requires))
        if inputs or requires or not ctx.group.deps or ctx.known_for != ctx.type:
            sink: set[FetchGroup] = {ctx.group}
            (ctx.level if ctx.level is not None else ctx.out).add_typename()
            self.visit(replace(ctx, sink=sink, depth=ctx.depth + 1), inputs)
        else:
            # The key is already in the response: wait only for what brought it there.
            sink = set(ctx.group.deps)
        # The fetch runs only under the conditions of the selection it serves.
        conditions = ctx.conditions + selection.conditions
        # Only entities of the type being planned are sent (an object reaching an @interfaceObject
        # subgraph is represented under the interface's name, but only objects of its own type go).
        represented = ctx.type if self.sg.types[ctx.type].kind == "object" else key_type
        representation_tree = parse_field_set(key)
        if requires:
            representation_tree = merge_trees(representation_tree, parse_field_set(requires))
        group = self.fetch_graph.entity_group(
            target,
            ctx.path,
            sink,
            conditions,
            # One representation holds a field once: requiring it with other arguments takes another fetch.
            lambda g: not tree_conflicts(g.inputs, {f"... on {represented}": representation_tree}),
        )
        representation = group.inputs.add_fragment(represented)
        representation.add_typename()
        tree_into(representation, parse_field_set(key))
        if requires:
            tree_into(representation, parse_field_set(requires))
        if self.sg.types[key_type].is_interface_object_in(target):
            # The subgraph knows the entity by its interface's name.
            group.interface_objects[represented] = key_type
        out = group.selection.add_fragment(key_type)
        if isinstance(selection, Fragment) and self.sg.types[ctx.type].is_interface_object_in(graph):
            # The source only knew the interface: the target tells the object type the fragment tests.
            out.add_typename()
        inner = Ctx(
            group,
            out,
            key_type,
            ctx.path,
            None,
            ctx.conditions,
            None,
            ctx.depth + 1,
            parse_field_set(key),
            key_type,
            out,
            contexts=ctx.contexts,
        )
        if ctx.sink is not None:
            ctx.sink.add(group)
            inner = replace(inner, sink=ctx.sink)
        if isinstance(selection, Field) and requires:
            self._place_local(inner, selection)
        elif isinstance(selection, Field):
            self.handle_field(inner, selection)
        else:
            self.handle_fragment(inner, selection)

    def _jump_target(self, ctx: Ctx, selection: Selection) -> tuple[str, str, str]:
        """(target graph, key type, key) of the cheapest jump from the current subgraph to one that resolves
        `selection`: an entity fetch already planned at this path costs less, a key the response lacks costs
        what fetching it costs, @requires and the selection's own cost count; ties go by subgraph order."""
        graph = ctx.group.graph
        best: tuple[float, int, str, str, str] | None = None
        for target in self._jump_resolvers(ctx.type, selection):
            if target == graph and not (
                isinstance(selection, Field) and self._requires_in(ctx.type, selection.name, graph)
            ):
                continue
            for key_type, key in self._entity_keys(ctx.type, target):
                existing = any(
                    g.is_entity
                    and g.graph == target
                    and g.path == ctx.path
                    and g.conditions == ctx.conditions
                    for g in self.fetch_graph.groups
                )
                score = 0 if existing else 2
                if not covers(ctx.known, parse_field_set(key)):
                    key_cost = self._key_cost(graph, ctx.type, key, ctx.provided, 0)
                    if key_cost >= UNREACHABLE:
                        continue
                    if not self._tree_local(graph, ctx.type, parse_field_set(key), ctx.provided):
                        score += 3 + key_cost
                if isinstance(selection, Field):
                    requires = self._requires(key_type, ctx.type, selection.name, target)
                    if requires:
                        score += 2
                    if selection.selections is not None:
                        score += self._cost(target, selection.type_name, selection.selections, None, 0)
                candidate = (score, self._graph_order[target], target, key_type, key)
                if best is None or candidate < best:
                    best = candidate
        if best is None:
            what = selection.name if isinstance(selection, Field) else f"... on {selection.type_condition}"
            raise PlanningError(
                f"no subgraph can resolve {ctx.type}.{what} from {self.sg.subgraph_name(graph)}"
            )
        _, _, target, key_type, key = best
        return target, key_type, key
