"""What each subgraph can answer: which fields it resolves where the planner stands (with
@provides, @requires and @interfaceObject taken into account), by which entity keys it is reached,
and roughly how many more fetches a selection costs from it. The traversal asks; this never plans."""

from __future__ import annotations

from router.planner.operation import Field, Fragment, Selection
from router.planner.selections import (
    FieldSetTree,
    internal_alias,
    merge_trees,
    parse_field_set,
    split_field_key,
)
from router.supergraph.model import FieldInfo, Supergraph

UNREACHABLE = 1000
# A little for each field fetched elsewhere: between plans with as many fetches, the one that gets
# more from the subgraph it is already in.
_PER_JUMPED_FIELD = 0.01


class PlanningError(Exception):
    """The operation cannot be planned over this supergraph."""


def _wrappers(type_ref: str) -> tuple[str, ...]:
    out: list[str] = []
    text = type_ref
    while True:
        if text.endswith("!"):
            out.append("!")
            text = text[:-1]
        elif text.startswith("["):
            out.append("[")
            text = text[1:-1]
        else:
            return tuple(out)


class Reachability:
    def __init__(self, supergraph: Supergraph) -> None:
        self.sg = supergraph
        self._graph_order = {g: i for i, g in enumerate(supergraph.subgraphs)}
        self._cost_cache: dict[tuple, tuple] = {}
        self._keys_in_progress: set[tuple[str, str, str]] = set()
        self._field_set_cache: dict[tuple[str, str], list[Selection]] = {}
        self.partial_unions = self._find_partial_unions()

    def _entity_keys(self, type_name: str, graph: str) -> list[tuple[str, str]]:
        """(type the representation names, key field set) for reaching ``type_name`` in ``graph``."""
        info = self.sg.types[type_name]
        found = [(type_name, key) for key in info.keys_in(graph)]
        if found or info.kind != "object":
            return found
        for interface, members in self.sg.possible_types.items():
            interface_info = self.sg.types[interface]
            if type_name in members and interface_info.is_interface_object_in(graph):
                found.extend((interface, key) for key in interface_info.keys_in(graph))
        return found

    def _jump_resolvers(self, type_name: str, selection: Selection) -> set[str]:
        info = self.sg.types[type_name]
        if isinstance(selection, Fragment) or selection.name == "__typename":
            return {g for g in info.graphs if not info.is_interface_object_in(g) and info.keys_in(g)}
        field = self.sg.field(type_name, selection.name)
        if field is None:
            return set()
        resolvers = set(field.resolvers)
        if info.kind == "object":
            # An @interfaceObject's fields: its subgraph resolves them for each implementation.
            for interface, members in self.sg.possible_types.items():
                if type_name in members:
                    interface_field = self.sg.field(interface, selection.name)
                    if interface_field is not None:
                        interface_info = self.sg.types[interface]
                        resolvers.update(
                            g for g in interface_field.resolvers if interface_info.is_interface_object_in(g)
                        )
        return resolvers

    def _requires(self, key_type: str, type_name: str, field_name: str, graph: str) -> str | None:
        for owner in (type_name, key_type):
            info = self.sg.field(owner, field_name)
            if info is not None:
                jf = info.join_for(graph)
                if jf is not None and jf.requires:
                    return jf.requires
        return None

    def field_set_selections(self, type_name: str, tree: FieldSetTree) -> list[Selection]:
        out: list[Selection] = []
        for key, sub in tree.items():
            if key.startswith("..."):
                condition = key[len("... on ") :] if key.startswith("... on ") else None
                out.append(
                    Fragment(condition, (), self.field_set_selections(condition or type_name, sub or {}))
                )
                continue
            if key == "__typename":
                out.append(Field(key, key, None, "", frozenset(), (), type_name, "String", True, ("!",)))
                continue
            name, arguments = split_field_key(key)
            info = self.sg.field(type_name, name)
            if info is None:
                raise PlanningError(f"field set names unknown field {type_name}.{name}")
            wrappers = _wrappers(info.type)
            alias = internal_alias(name, arguments)
            out.append(
                Field(
                    name=name,
                    response_key=alias or name,
                    alias=alias,
                    arguments=arguments,
                    variables=frozenset(),
                    conditions=(),
                    parent_type=type_name,
                    type_name=info.named_type,
                    non_null=bool(wrappers) and wrappers[0] == "!",
                    wrappers=wrappers,
                    selections=self.field_set_selections(info.named_type, sub) if sub is not None else None,
                )
            )
        return out

    # -- resolvability and cost ------------------------------------------------------------------

    def _local(self, graph: str, type_name: str, field_name: str, provided: FieldSetTree | None) -> bool:
        info = self.sg.field(type_name, field_name)
        if info is None:
            return False
        if graph in info.resolvers:
            # A field with @requires is resolved through _entities, with the required fields in hand.
            return not self._has_requires(info, graph)
        return provided is not None and self._is_provided(provided, type_name, field_name)

    @staticmethod
    def _has_requires(info: FieldInfo, graph: str) -> bool:
        join = info.join_for(graph)
        return join is not None and join.requires is not None

    def _requires_in(self, type_name: str, field_name: str, graph: str) -> bool:
        info = self.sg.field(type_name, field_name)
        return info is not None and graph in info.resolvers and self._has_requires(info, graph)

    def _is_provided(self, provided: FieldSetTree, type_name: str, field_name: str) -> bool:
        if field_name in provided:
            return True
        for key, sub in provided.items():
            if key.startswith("... on ") and sub is not None:
                condition = key[len("... on ") :]
                if (
                    condition == type_name or type_name in self.sg.runtime_types(condition)
                ) and self._is_provided(sub, type_name, field_name):
                    return True
        return False

    def _provided_for(self, provided: FieldSetTree | None, type_name: str) -> FieldSetTree | None:
        return provided

    def _provided_sub(
        self, provided: FieldSetTree | None, type_name: str, field_name: str
    ) -> FieldSetTree | None:
        if provided is None:
            return None
        found: FieldSetTree | None = None
        if field_name in provided and provided[field_name] is not None:
            found = provided[field_name]
        for key, sub in provided.items():
            if key.startswith("... on ") and sub is not None:
                condition = key[len("... on ") :]
                if condition == type_name or type_name in self.sg.runtime_types(condition):
                    found = merge_trees(found, self._provided_sub(sub, type_name, field_name))
        return found

    def _tree_local(
        self, graph: str, type_name: str, tree: FieldSetTree, provided: FieldSetTree | None
    ) -> bool:
        for key, sub in tree.items():
            if key.startswith("...") or key == "__typename":
                continue
            name = split_field_key(key)[0]
            if not self._local(graph, type_name, name, provided):
                return False
            if sub is not None:
                info = self.sg.field(type_name, name)
                assert info is not None
                if not self._tree_local(
                    graph, info.named_type, sub, self._provided_sub(provided, type_name, name)
                ):
                    return False
        return True

    def _cost(
        self,
        graph: str,
        type_name: str,
        selections: list[Selection],
        provided: FieldSetTree | None,
        depth: int,
    ) -> float:
        """Roughly how many more fetches planning ``selections`` from ``graph`` takes."""
        # Keyed by identity; the entry keeps its selections alive so an id is never reused.
        key = (graph, type_name, tuple(map(id, selections)), id(provided))
        cached = self._cost_cache.get(key)
        if cached is not None:
            return cached[0]
        if depth > 12:
            return 0
        total = 0
        jumps: set[str] = set()
        for field, owner in self._fields(graph, type_name, selections):
            if field.name.startswith("__"):
                continue
            if self._local(graph, owner, field.name, provided):
                if field.selections is not None:
                    total += self._cost(
                        graph,
                        field.type_name,
                        field.selections,
                        self._provided_sub(provided, owner, field.name),
                        depth + 1,
                    )
                continue
            owner_info = self.sg.types[owner]
            if owner_info.is_abstract and not owner_info.is_interface_object_in(graph):
                # Planned per object type, as the walk does.
                runtimes = sorted(self.sg.possible_in(owner, graph))
                total += sum(self._cost(graph, name, [field], provided, depth + 1) for name in runtimes)
                continue
            best: tuple[float, str] | None = None
            for target in self._jump_resolvers(owner, field):
                if target == graph and not self._requires_in(owner, field.name, graph):
                    continue
                keys = self._entity_keys(owner, target)
                if not keys:
                    continue
                sub = min(self._key_cost(graph, owner, key, provided, depth) for _, key in keys)
                if sub >= UNREACHABLE:
                    continue
                if field.selections is not None:
                    sub = self._cost(target, field.type_name, field.selections, None, depth + 1)
                if best is None or (sub, target) < best:
                    best = (sub, target)
            if best is None:
                total += UNREACHABLE
            else:
                jumps.add(best[1])
                total += best[0] + _PER_JUMPED_FIELD
        result = total + len(jumps)
        self._cost_cache[key] = (result, selections, provided)
        return result

    def _key_cost(
        self, graph: str, type_name: str, key: str, provided: FieldSetTree | None, depth: int
    ) -> float:
        """What fetching an entity key from ``graph`` costs: nothing when the subgraph has it,
        else the jumps to another subgraph that has it; unreachable when that goes round in circles."""
        tree = parse_field_set(key)
        if self._tree_local(graph, type_name, tree, provided):
            return 0
        marker = (graph, type_name, key)
        if marker in self._keys_in_progress:
            return UNREACHABLE
        self._keys_in_progress.add(marker)
        try:
            return self._cost(graph, type_name, self._key_selections(type_name, key), provided, depth + 1)
        finally:
            self._keys_in_progress.discard(marker)

    def _key_selections(self, type_name: str, key: str) -> list[Selection]:
        cache_key = (type_name, key)
        found = self._field_set_cache.get(cache_key)
        if found is None:
            found = self._field_set_cache[cache_key] = self.field_set_selections(
                type_name, parse_field_set(key)
            )
        return found

    def _fields(self, graph: str, type_name: str, selections: list[Selection]) -> list[tuple[Field, str]]:
        """The fields of ``selections`` and their owning types, skipping fragments ``graph`` never matches."""
        out: list[tuple[Field, str]] = []
        info = self.sg.types[type_name]
        for selection in selections:
            if isinstance(selection, Field):
                out.append((selection, type_name))
                continue
            condition = selection.type_condition or type_name
            if condition == type_name:
                out.extend(self._fields(graph, type_name, selection.selections))
            elif info.kind == "object":
                if type_name in self.sg.runtime_types(condition):
                    out.extend(self._fields(graph, type_name, selection.selections))
            elif not info.is_interface_object_in(graph):
                possible = self.sg.possible_in(type_name, graph) & self.sg.runtime_types(condition)
                for name in sorted(possible):
                    out.extend(self._fields(graph, name, selection.selections))
        return out

    # -- unions whose members differ by subgraph --------------------------------------------------

    def _find_partial_unions(self) -> frozenset[str]:
        """Unions whose members differ by subgraph. Only below those does the walk track which
        subgraphs may still resolve its path (none in most supergraphs: nothing to pay there)."""
        found = []
        for name in self.sg.possible_types:
            info = self.sg.types[name]
            if info.kind == "union":
                members = {frozenset(m) for g, m in info.union_members.items() if g != "*"}
                if len(members) > 1:
                    found.append(name)
        return frozenset(found)

    def path_candidates(
        self,
        parent: str,
        field: Field,
        candidates: frozenset[str] | None,
        graph: str,
        provided: FieldSetTree | None,
    ) -> frozenset[str] | None:
        """The subgraphs that may resolve ``parent.field`` on this path, ``graph`` (the one fetching it)
        among them: those of ``candidates`` (the parent's) that resolve the field and, where the parent is
        an entity, those an entity call from ``graph`` reaches. None when a candidate returns a narrower
        type than a partial union: the members are then those of ``graph`` alone, as without tracking."""
        info = self.sg.field(parent, field.name)
        if info is None or len(info.resolvers) < 2:
            return None
        parent_info = self.sg.types[parent]
        found = {graph}
        for other in info.resolvers:
            if other == graph or (candidates is not None and other in candidates):
                found.add(other)
            elif any(
                self._key_cost(graph, parent, key, provided, 0) < UNREACHABLE
                for key in parent_info.keys_in(other)
            ):
                found.add(other)
        if len(found) > 1 and field.type_name in self.partial_unions:
            for other in found:
                join = info.join_for(other)
                if join is not None and join.type and join.type.strip("[]!") != field.type_name:
                    return None
        return frozenset(found)

    def possible_on_path(self, type_name: str, graph: str, candidates: frozenset[str] | None) -> set[str]:
        """Object types a value of ``type_name`` may have here. For a union whose members differ by
        subgraph, those every subgraph that may still resolve the path knows: the response must not
        depend on which of them the plan picks (the partial-union rule that Hive Router follows)."""
        if candidates is None or len(candidates) < 2 or type_name not in self.partial_unions:
            return self.sg.possible_in(type_name, graph)
        info = self.sg.types[type_name]
        found = set(info.union_members.get(graph, ()))
        for other in candidates:
            found.intersection_update(info.union_members.get(other, ()))
        return found
