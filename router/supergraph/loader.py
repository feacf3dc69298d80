"""Reads a Federation 2 supergraph SDL (link v1.0, join v0.3-v0.5) into the planner's model."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from graphql import (
    BooleanValueNode,
    DirectiveNode,
    DocumentNode,
    EnumTypeDefinitionNode,
    EnumTypeExtensionNode,
    EnumValueNode,
    InputObjectTypeDefinitionNode,
    InputObjectTypeExtensionNode,
    InterfaceTypeDefinitionNode,
    InterfaceTypeExtensionNode,
    IntValueNode,
    ListTypeNode,
    ListValueNode,
    NamedTypeNode,
    NonNullTypeNode,
    ObjectTypeDefinitionNode,
    ObjectTypeExtensionNode,
    ObjectValueNode,
    ScalarTypeDefinitionNode,
    ScalarTypeExtensionNode,
    SchemaDefinitionNode,
    SchemaExtensionNode,
    StringValueNode,
    TypeNode,
    UnionTypeDefinitionNode,
    UnionTypeExtensionNode,
    parse,
    print_ast,
)

from router.supergraph.model import (
    AccessRule,
    ContextArgument,
    FieldInfo,
    JoinField,
    JoinType,
    ListSize,
    Subgraph,
    Supergraph,
    TypeInfo,
)
from router.supergraph.names import SpecNames, spec_names

_KINDS: dict[type, str] = {
    ObjectTypeDefinitionNode: "object",
    ObjectTypeExtensionNode: "object",
    InterfaceTypeDefinitionNode: "interface",
    InterfaceTypeExtensionNode: "interface",
    UnionTypeDefinitionNode: "union",
    UnionTypeExtensionNode: "union",
    EnumTypeDefinitionNode: "enum",
    EnumTypeExtensionNode: "enum",
    InputObjectTypeDefinitionNode: "input",
    InputObjectTypeExtensionNode: "input",
    ScalarTypeDefinitionNode: "scalar",
    ScalarTypeExtensionNode: "scalar",
}


class SupergraphError(ValueError):
    """The text is not a supergraph this router understands."""


def named_type(node: TypeNode) -> str:
    while isinstance(node, (NonNullTypeNode, ListTypeNode)):
        node = node.type
    assert isinstance(node, NamedTypeNode)
    return node.name.value


def _value(node: Any) -> Any:
    if isinstance(node, StringValueNode):
        return node.value
    if isinstance(node, BooleanValueNode):
        return node.value
    if isinstance(node, EnumValueNode):
        return node.value
    if isinstance(node, ListValueNode):  # join v0.5's contextArguments: a list of input objects
        return [_value(item) for item in node.values]
    if isinstance(node, ObjectValueNode):
        return {item.name.value: _value(item.value) for item in node.fields}
    return None


def _args(directive: DirectiveNode) -> dict[str, Any]:
    return {arg.name.value: _value(arg.value) for arg in directive.arguments or ()}


def _directives(node: Any, name: str) -> Iterable[dict[str, Any]]:
    for directive in node.directives or ():
        if directive.name.value == name:
            yield _args(directive)


def load_supergraph(sdl: str | DocumentNode) -> tuple[Supergraph, DocumentNode, SpecNames]:
    document = parse(sdl) if isinstance(sdl, str) else sdl
    names = spec_names(document)
    if names.join is None:
        raise SupergraphError("not a supergraph: no @link to the join spec")
    join = names.join
    subgraphs: dict[str, Subgraph] = {}
    types: dict[str, TypeInfo] = {}
    roots = {"query": "Query", "mutation": None, "subscription": None}
    explicit_roots = False

    for definition in document.definitions:
        if isinstance(definition, (SchemaDefinitionNode, SchemaExtensionNode)):
            for op in definition.operation_types or ():
                if not explicit_roots:
                    roots = {"query": None, "mutation": None, "subscription": None}
                    explicit_roots = True
                roots[op.operation.value] = op.type.name.value
            continue
        kind = _KINDS.get(type(definition))
        if kind is None:
            continue
        name = definition.name.value
        if name == f"{join}Graph" and kind == "enum":
            for value in definition.values or ():
                for args in _directives(value, f"{join}graph"):
                    graph = value.name.value
                    subgraphs[graph] = Subgraph(graph, args["name"], args["url"])
            continue
        if names.is_machinery_type(name):
            continue
        info = types.get(name)
        if info is None:
            info = types[name] = TypeInfo(name, kind)
        weight = _cost(definition, names.cost) if names.cost is not None else None
        if weight is not None:  # an extension of the type keeps the definition's weight
            info.cost = weight
        info.access += _access(definition, names)
        for args in _directives(definition, f"{join}type"):
            info.joins.append(
                JoinType(
                    graph=args["graph"],
                    key=args.get("key"),
                    extension=bool(args.get("extension", False)),
                    resolvable=args.get("resolvable", True) is not False,
                    is_interface_object=bool(args.get("isInterfaceObject", False)),
                )
            )
        if names.context is not None:
            info.contexts |= {a["name"] for a in _directives(definition, names.context) if a.get("name")}
        for args in _directives(definition, f"{join}implements"):
            info.implements.setdefault(args["graph"], set()).add(args["interface"])
        for args in _directives(definition, f"{join}unionMember"):
            info.union_members.setdefault(args["graph"], set()).add(args["member"])
        if kind in ("object", "interface", "input"):
            for field_node in definition.fields or ():
                info.fields[field_node.name.value] = _field(field_node, join, names)
        elif kind == "enum":
            for value in definition.values or ():
                graphs = frozenset(a["graph"] for a in _directives(value, f"{join}enumValue"))
                info.enum_values[value.name.value] = graphs
        elif kind == "union":
            for member in definition.types or ():
                info.union_members.setdefault("*", set()).add(member.name.value)

    supergraph = Supergraph(
        subgraphs=subgraphs,
        types=types,
        query_type=roots["query"],
        mutation_type=roots["mutation"],
        subscription_type=roots["subscription"],
    )
    _derive(supergraph)
    return supergraph, document, names


def _field(node: Any, join: str, names: SpecNames) -> FieldInfo:
    info = FieldInfo(node.name.value, print_ast(node.type), named_type(node.type))
    if names.cost is not None:
        info.cost = _cost(node, names.cost)
        info.list_size = _list_size(node, names.list_size)
        for argument in getattr(node, "arguments", None) or ():
            weight = _cost(argument, names.cost)
            if weight is not None:
                info.argument_costs[argument.name.value] = weight
    info.access = _access(node, names)
    for args in _directives(node, f"{join}field"):
        if args.get("graph") is None:
            # A bare @join__field: no subgraph defines the field on this type; @interfaceObject
            # types resolve it for the type's interface.
            info.interface_object_only = True
            continue
        info.joins.append(
            JoinField(
                graph=args["graph"],
                requires=args.get("requires"),
                provides=args.get("provides"),
                type=args.get("type"),
                external=bool(args.get("external", False)),
                override=args.get("override"),
                override_label=args.get("overrideLabel"),
                used_overridden=bool(args.get("usedOverridden", False)),
                context_arguments=_context_arguments(args.get("contextArguments")),
            )
        )
    return info


def _context_arguments(value: Any) -> tuple[ContextArgument, ...]:
    """A ``@join__field``'s ``contextArguments`` (join v0.5): the field's ``@fromContext`` arguments."""
    if not isinstance(value, list):
        return ()
    return tuple(
        ContextArgument(item["name"], item["type"], item["context"], item["selection"])
        for item in value
        if isinstance(item, dict)
        and all(isinstance(item.get(k), str) for k in ("name", "type", "context"))
        and isinstance(item.get("selection"), str)
    )


def _access(node: Any, names: SpecNames) -> tuple[AccessRule, ...]:
    """`node`'s authorization directives: `@authenticated`, `@requiresScopes(scopes: [[...]])` and
    `@policy(policies: [[...]])` (outer list OR, inner list AND)."""
    rules: list[AccessRule] = []
    for directive in node.directives or ():
        name = directive.name.value
        if name == names.authenticated:
            rules.append(AccessRule("authenticated"))
        elif name in (names.requires_scopes, names.policy):
            argument = "scopes" if name == names.requires_scopes else "policies"
            alternatives: list[frozenset[str]] = []
            for arg in directive.arguments or ():
                if arg.name.value == argument and isinstance(arg.value, ListValueNode):
                    alternatives.extend(frozenset(_strings(group)) for group in arg.value.values)
            rules.append(AccessRule(argument, tuple(alternatives)))
    return tuple(rules)


def _cost(node: Any, name: str) -> int | None:
    """The weight of `node`'s ``@cost`` (cost spec v0.1: `weight: Int!`), None without one."""
    for directive in node.directives or ():
        if directive.name.value == name:
            for arg in directive.arguments or ():
                if arg.name.value == "weight" and isinstance(arg.value, IntValueNode):
                    return int(arg.value.value)
    return None


def _list_size(node: Any, name: str | None) -> ListSize | None:
    """`node`'s ``@listSize`` (its arguments as the cost spec defines them), None without one."""
    for directive in node.directives or ():
        if directive.name.value != name:
            continue
        values = {arg.name.value: arg.value for arg in directive.arguments or ()}
        assumed = values.get("assumedSize")
        require_one = values.get("requireOneSlicingArgument")
        return ListSize(
            assumed_size=int(assumed.value) if isinstance(assumed, IntValueNode) else None,
            slicing_arguments=_strings(values.get("slicingArguments")),
            sized_fields=_strings(values.get("sizedFields")),
            # The spec's default is true; only a literal false turns it off.
            require_one_slicing_argument=not (
                isinstance(require_one, BooleanValueNode) and require_one.value is False
            ),
        )
    return None


def _strings(node: Any) -> tuple[str, ...]:
    if isinstance(node, ListValueNode):
        return tuple(v.value for v in node.values if isinstance(v, StringValueNode))
    if isinstance(node, StringValueNode):  # a list of one may be written without brackets
        return (node.value,)
    return ()


def _derive(supergraph: Supergraph) -> None:
    all_graphs = frozenset(supergraph.subgraphs)
    possible: dict[str, set[str]] = {}
    for info in supergraph.types.values():
        info.graphs = frozenset(j.graph for j in info.joins) or all_graphs
        if info.kind == "object":
            for interfaces in info.implements.values():
                for interface in interfaces:
                    possible.setdefault(interface, set()).add(info.name)
    for info in supergraph.types.values():
        if info.kind == "union":
            for member in info.union_members.get("*", ()):
                possible.setdefault(info.name, set()).add(member)
            if not any(g != "*" for g in info.union_members):
                # A union without @join__unionMember (old supergraphs): every graph of the union has it all.
                for graph in info.graphs:
                    info.union_members[graph] = set(info.union_members.get("*", ()))
    supergraph.possible_types = {name: frozenset(members) for name, members in possible.items()}
    # Interfaces may also implement interfaces: an object implementing the child implements the parent.
    for info in supergraph.types.values():
        if info.kind not in ("object", "interface"):
            continue
        key_fields: dict[str, set[str]] = {}
        for join in info.joins:
            # A Fed-1 style extension marks its key fields @external yet resolves them; elsewhere an
            # @external key field is one the subgraph cannot answer.
            if join.key and join.extension:
                key_fields.setdefault(join.graph, set()).update(_top_level_fields(join.key))
        for field_info in info.fields.values():
            if not field_info.joins:
                if not field_info.interface_object_only:
                    field_info.resolvers = info.graphs
                continue
            resolvers = set()
            external = set()
            for join in field_info.joins:
                if join.external and field_info.name not in key_fields.get(join.graph, ()):
                    external.add(join.graph)
                elif join.used_overridden:
                    external.add(join.graph)
                else:
                    resolvers.add(join.graph)
            field_info.resolvers = frozenset(resolvers)
            field_info.external_in = frozenset(external)
    supergraph.context_variables = _context_variables(supergraph)
    supergraph.has_access_rules = any(
        info.access or any(f.access for f in info.fields.values()) for info in supergraph.types.values()
    )
    # Both sides of a labelled override resolve the field here; each request's labels pick one (overrides.py).
    supergraph.override_labels = frozenset(
        join.override_label
        for info in supergraph.types.values()
        for field_info in info.fields.values()
        for join in field_info.joins
        if join.override and join.override_label
    )


def _context_variables(supergraph: Supergraph) -> dict[tuple[str, str, str, str], str]:
    """The variable of each ``@fromContext`` argument, named as Apollo's query graph names it: per subgraph
    (its place in ``join__Graph``, from 1), the coordinates ``Type.field(arg:)`` sorted, numbered from 0."""
    per_graph: dict[str, list[tuple[str, tuple[str, str, str, str]]]] = {}
    for info in supergraph.types.values():
        for field_info in info.fields.values():
            for join in field_info.joins:
                for argument in join.context_arguments:
                    coordinate = f"{info.name}.{field_info.name}({argument.name}:)"
                    key = (join.graph, info.name, field_info.name, argument.name)
                    per_graph.setdefault(join.graph, []).append((coordinate, key))
    variables: dict[tuple[str, str, str, str], str] = {}
    for number, graph in enumerate(supergraph.subgraphs, 1):
        for index, (_, key) in enumerate(sorted(per_graph.get(graph, ()))):
            variables[key] = f"contextualArgument_{number}_{index}"
    return variables


def _top_level_fields(field_set: str) -> set[str]:
    """The top-level field names of a field set such as ``id org { id }``."""
    found: set[str] = set()
    depth = 0
    word = ""
    for char in field_set + " ":
        if char.isalnum() or char == "_":
            word += char
            continue
        if word and depth == 0:
            found.add(word)
        word = ""
        if char == "{":
            depth += 1
        elif char == "}":
            depth -= 1
    return found
