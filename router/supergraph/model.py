"""The supergraph as the planner sees it: subgraphs, and for each type and field which subgraphs
resolve it, by which keys, with which @requires/@provides/@external/@override; what demand control
prices (router/pipeline/cost.py): the `@cost` weights and `@listSize` of the cost spec; and who may read it
(router/pipeline/authorization.py): `@authenticated`, `@requiresScopes`, `@policy`."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True, slots=True)
class Subgraph:
    enum_value: str  # the join__Graph value, e.g. PRODUCTS
    name: str  # the subgraph's own name, e.g. products
    url: str


@dataclass(frozen=True, slots=True)
class JoinType:
    """One ``@join__type``: the type exists in ``graph``, maybe as an entity with ``key``."""

    graph: str
    key: str | None = None
    extension: bool = False
    resolvable: bool = True
    is_interface_object: bool = False


@dataclass(frozen=True, slots=True)
class ContextArgument:
    """One ``contextArguments`` entry of a ``@join__field`` (join v0.5, Federation 2.8's ``@fromContext``):
    the argument ``name`` of type ``type`` takes the value that ``selection`` reads on the nearest ancestor
    setting ``context`` (a supergraph context name, e.g. ``inventory__userContext``)."""

    name: str
    type: str
    context: str
    selection: str


@dataclass(frozen=True, slots=True)
class JoinField:
    """One ``@join__field``: ``graph`` resolves the field (unless ``external`` or ``used_overridden``)."""

    graph: str
    requires: str | None = None
    provides: str | None = None
    type: str | None = None
    external: bool = False
    override: str | None = None
    override_label: str | None = None
    used_overridden: bool = False
    context_arguments: tuple[ContextArgument, ...] = ()


@dataclass(frozen=True, slots=True)
class ListSize:
    """One ``@listSize``: how many items a list field returns (`assumed_size`, or the largest of the
    `slicing_arguments` the operation gives), and which of its fields' lists have that size
    (`sized_fields`, for connections whose `edges` the argument sizes)."""

    assumed_size: int | None = None
    slicing_arguments: tuple[str, ...] = ()
    sized_fields: tuple[str, ...] = ()
    require_one_slicing_argument: bool = True


@dataclass(frozen=True, slots=True)
class AccessRule:
    """One authorization directive on a field or type: `@authenticated` (kind "authenticated", no
    alternatives), `@requiresScopes` ("scopes") or `@policy` ("policies"), whose `alternatives` hold when one
    of them (OR) has all its names (AND)."""

    kind: str
    alternatives: tuple[frozenset[str], ...] = ()


@dataclass(slots=True)
class FieldInfo:
    name: str
    type: str  # the supergraph's type reference, printed (e.g. "[Product!]!")
    named_type: str
    joins: list[JoinField] = field(default_factory=list)
    # Graphs that resolve the field themselves, filled by the loader.
    resolvers: frozenset[str] = frozenset()
    # Graphs that know the field but cannot resolve it (external or overridden away).
    external_in: frozenset[str] = frozenset()
    # Only @interfaceObject types resolve it (a bare ``@join__field`` in the supergraph).
    interface_object_only: bool = False
    # Demand control: the field's ``@cost`` weight (an input field's too), its ``@listSize``, and the
    # ``@cost`` weights of its arguments by name.
    cost: int | None = None
    list_size: ListSize | None = None
    argument_costs: dict[str, int] = field(default_factory=dict)
    # Who may read it: every rule must hold (empty: anyone).
    access: tuple[AccessRule, ...] = ()

    def join_for(self, graph: str) -> JoinField | None:
        for join in self.joins:
            if join.graph == graph:
                return join
        return None


@dataclass(slots=True)
class TypeInfo:
    name: str
    kind: str  # object, interface, union, enum, input, scalar
    joins: list[JoinType] = field(default_factory=list)
    fields: dict[str, FieldInfo] = field(default_factory=dict)
    graphs: frozenset[str] = frozenset()
    # graph -> interfaces the type implements in that graph
    implements: dict[str, set[str]] = field(default_factory=dict)
    # graph -> union members in that graph (unions only)
    union_members: dict[str, set[str]] = field(default_factory=dict)
    # enum value -> graphs that define it (empty: every graph of the enum)
    enum_values: dict[str, frozenset[str]] = field(default_factory=dict)
    # The type's ``@cost`` weight (objects, scalars, enums): what a field of this type costs without its own.
    cost: int | None = None
    # The contexts (Federation 2.8's ``@context``, by supergraph name) the type sets for its descendants.
    contexts: frozenset[str] = frozenset()
    # Who may read a value of this type (objects, interfaces, scalars, enums): every rule must hold.
    access: tuple[AccessRule, ...] = ()

    def keys_in(self, graph: str) -> list[str]:
        """The resolvable keys of this type in ``graph`` (field sets as written)."""
        return [j.key for j in self.joins if j.graph == graph and j.key and j.resolvable]

    def all_keys_in(self, graph: str) -> list[str]:
        return [j.key for j in self.joins if j.graph == graph and j.key]

    def is_interface_object_in(self, graph: str) -> bool:
        return any(j.graph == graph and j.is_interface_object for j in self.joins)

    @property
    def is_abstract(self) -> bool:
        return self.kind in ("interface", "union")


@dataclass(slots=True)
class Supergraph:
    subgraphs: dict[str, Subgraph]  # by enum value
    types: dict[str, TypeInfo]
    query_type: str | None = "Query"
    mutation_type: str | None = None
    subscription_type: str | None = None
    # abstract type -> object types implementing it (supergraph-wide)
    possible_types: dict[str, frozenset[str]] = field(default_factory=dict)
    # Every progressive override label (`@join__field(overrideLabel:)`, join v0.5): none, no per-request
    # view (router/supergraph/overrides.py).
    override_labels: frozenset[str] = frozenset()
    # Every ``@fromContext`` argument: (graph, type, field, argument) -> the variable the subgraph operation
    # passes it in, named as Apollo's planner names it (`contextualArgument_<graph>_<index>`); empty: none.
    context_variables: dict[tuple[str, str, str, str], str] = field(default_factory=dict)
    # Whether any field or type carries an authorization directive (none: nothing to authorize).
    has_access_rules: bool = False

    def subgraph_name(self, graph: str) -> str:
        return self.subgraphs[graph].name

    def field(self, type_name: str, field_name: str) -> FieldInfo | None:
        info = self.types.get(type_name)
        return info.fields.get(field_name) if info else None

    def possible_in(self, type_name: str, graph: str) -> set[str]:
        """Object types a value of ``type_name`` may have when ``graph`` returns it."""
        info = self.types[type_name]
        if info.kind == "object":
            return {type_name}
        if info.kind == "interface" and info.is_interface_object_in(graph):
            return set(self.possible_types.get(type_name, ()))
        if info.kind == "union":
            return set(info.union_members.get(graph, ()))
        found = set()
        for name in self.possible_types.get(type_name, ()):
            other = self.types[name]
            if graph in other.graphs and type_name in other.implements.get(graph, ()):
                found.add(name)
        return found

    def runtime_types(self, type_name: str) -> frozenset[str]:
        info = self.types.get(type_name)
        if info is None:
            return frozenset()
        if info.kind == "object":
            return frozenset((type_name,))
        return self.possible_types.get(type_name, frozenset())
