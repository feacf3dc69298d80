"""The client's operation, normalized: fragment spreads inlined, literal @skip/@include applied,
every field knowing its parent and return type. Planning and response shaping both walk this."""

from __future__ import annotations

from dataclasses import dataclass, field

from graphql import (
    BooleanValueNode,
    DirectiveNode,
    FieldNode,
    FragmentDefinitionNode,
    FragmentSpreadNode,
    GraphQLList,
    GraphQLNonNull,
    GraphQLSchema,
    InlineFragmentNode,
    OperationDefinitionNode,
    SelectionSetNode,
    VariableNode,
    get_named_type,
    print_ast,
)
from graphql.language import Visitor, visit

# A condition: (variable name, value the variable must have for the selection to be kept).
Condition = tuple[str, bool]


@dataclass(slots=True)
class Field:
    name: str
    response_key: str
    alias: str | None
    arguments: str  # printed "(a: 1, b: $x)" or ""
    variables: frozenset[str]
    conditions: tuple[Condition, ...]
    parent_type: str
    type_name: str  # the named return type
    non_null: bool
    # Wrappers from the outside in: "!" non-null, "[" list; e.g. [Product!]! -> ("!", "[", "!")
    wrappers: tuple[str, ...]
    selections: list[Selection] | None = None

    @property
    def list_depth(self) -> int:
        return self.wrappers.count("[")


@dataclass(slots=True)
class Fragment:
    type_condition: str | None
    conditions: tuple[Condition, ...]
    selections: list[Selection] = field(default_factory=list)


Selection = Field | Fragment


@dataclass(slots=True)
class Operation:
    kind: str  # query, mutation, subscription
    name: str | None
    root_type: str
    selections: list[Selection]
    # variable name -> printed type ("ID!")
    variable_types: dict[str, str]


def _wrappers(type_: object) -> tuple[str, ...]:
    out: list[str] = []
    while True:
        if isinstance(type_, GraphQLNonNull):
            out.append("!")
            type_ = type_.of_type
        elif isinstance(type_, GraphQLList):
            out.append("[")
            type_ = type_.of_type
        else:
            return tuple(out)


def _conditions(directives: tuple[DirectiveNode, ...] | list | None) -> tuple[Condition, ...] | None:
    """The variable conditions of @skip/@include, or None when a literal condition removes the node."""
    found: list[Condition] = []
    for directive in directives or ():
        name = directive.name.value
        if name not in ("skip", "include"):
            continue
        for arg in directive.arguments or ():
            if arg.name.value != "if":
                continue
            keep_when = name == "include"
            if isinstance(arg.value, BooleanValueNode):
                if arg.value.value != keep_when:
                    return None
            elif isinstance(arg.value, VariableNode):
                found.append((arg.value.name.value, keep_when))
    return tuple(found)


class _VariableCollector(Visitor):
    def __init__(self) -> None:
        super().__init__()
        self.names: set[str] = set()

    def enter_variable(self, node: VariableNode, *_: object) -> None:
        self.names.add(node.name.value)


def _print_arguments(node: FieldNode) -> tuple[str, frozenset[str]]:
    if not node.arguments:
        return "", frozenset()
    collector = _VariableCollector()
    for arg in node.arguments:
        visit(arg, collector)
    printed = ", ".join(f"{a.name.value}: {print_ast(a.value)}" for a in node.arguments)
    return f"({printed})", frozenset(collector.names)


def normalize(
    schema: GraphQLSchema,
    operation: OperationDefinitionNode,
    fragments: dict[str, FragmentDefinitionNode],
) -> Operation:
    kind = operation.operation.value
    root = schema.get_root_type(operation.operation)
    assert root is not None
    # Printed with their defaults: a nullable variable with a default may fill a non-null position.
    variable_types = {
        v.variable.name.value: print_ast(v.type)
        + (f" = {print_ast(v.default_value)}" if v.default_value else "")
        for v in operation.variable_definitions or ()
    }

    def selections_of(selection_set: SelectionSetNode, parent: str, seen: frozenset[str]) -> list[Selection]:
        parent_type = schema.type_map[parent]
        out: list[Selection] = []
        for node in selection_set.selections:
            conditions = _conditions(node.directives)
            if conditions is None:
                continue
            if isinstance(node, FieldNode):
                name = node.name.value
                if name == "__typename":
                    out.append(
                        Field(
                            name,
                            (node.alias or node.name).value,
                            node.alias.value if node.alias else None,
                            "",
                            frozenset(),
                            conditions,
                            parent,
                            "String",
                            True,
                            ("!",),
                        )
                    )
                    continue
                if name in ("__schema", "__type"):
                    # Answered by the router from the API schema, never planned.
                    arguments, variables = _print_arguments(node)
                    key = (node.alias or node.name).value
                    alias = node.alias.value if node.alias else None
                    out.append(
                        Field(name, key, alias, arguments, variables, conditions, parent, name, False, ())
                    )
                    continue
                field_def = parent_type.fields[name]  # type: ignore[union-attr]
                arguments, variables = _print_arguments(node)
                named = get_named_type(field_def.type)
                wrappers = _wrappers(field_def.type)
                sub = None
                if node.selection_set is not None:
                    sub = selections_of(node.selection_set, named.name, seen)
                out.append(
                    Field(
                        name=name,
                        response_key=(node.alias or node.name).value,
                        alias=node.alias.value if node.alias else None,
                        arguments=arguments,
                        variables=variables,
                        conditions=conditions,
                        parent_type=parent,
                        type_name=named.name,
                        non_null=bool(wrappers) and wrappers[0] == "!",
                        wrappers=wrappers,
                        selections=sub,
                    )
                )
            elif isinstance(node, InlineFragmentNode):
                condition = node.type_condition.name.value if node.type_condition else None
                sub_parent = condition or parent
                out.append(
                    Fragment(condition, conditions, selections_of(node.selection_set, sub_parent, seen))
                )
            elif isinstance(node, FragmentSpreadNode):
                name = node.name.value
                if name in seen or name not in fragments:
                    continue
                fragment = fragments[name]
                condition = fragment.type_condition.name.value
                fragment_conditions = _conditions(fragment.directives)
                if fragment_conditions is None:
                    continue
                out.append(
                    Fragment(
                        condition,
                        conditions + fragment_conditions,
                        selections_of(fragment.selection_set, condition, seen | {name}),
                    )
                )
        return out

    return Operation(
        kind=kind,
        name=operation.name.value if operation.name else None,
        root_type=root.name,
        selections=selections_of(operation.selection_set, root.name, frozenset()),
        variable_types=variable_types,
    )
