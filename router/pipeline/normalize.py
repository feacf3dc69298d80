"""Stage: normalize the selected operation into what planning and shaping walk (router/planner/operation.py):
fragment spreads inlined, literal @skip/@include applied, every field knowing its parent and return type,
variable conditions kept on the selections they guard, @defer kept on the fragments it marks."""

from __future__ import annotations

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
    SelectionNode,
    SelectionSetNode,
    StringValueNode,
    VariableNode,
    get_named_type,
    print_ast,
)
from graphql.language import Visitor, visit

from router.planner.operation import Condition, Deferral, Field, Fragment, Operation, Selection

# Root fields the router answers itself from the API schema, never planned.
_INTROSPECTION = ("__schema", "__type")


def normalize(
    schema: GraphQLSchema,
    operation: OperationDefinitionNode,
    fragments: dict[str, FragmentDefinitionNode],
) -> Operation:
    root = schema.get_root_type(operation.operation)
    assert root is not None
    # Printed with their defaults: a nullable variable with a default may fill a non-null position.
    variable_types = {
        v.variable.name.value: print_ast(v.type)
        + (f" = {print_ast(v.default_value)}" if v.default_value else "")
        for v in operation.variable_definitions or ()
    }
    normalizer = _Normalizer(schema, fragments)
    return Operation(
        kind=operation.operation.value,
        name=operation.name.value if operation.name else None,
        root_type=root.name,
        selections=normalizer.selections(operation.selection_set, root.name, frozenset()),
        variable_types=variable_types,
        defers=normalizer.defers,
    )


class _Normalizer:
    def __init__(self, schema: GraphQLSchema, fragments: dict[str, FragmentDefinitionNode]) -> None:
        self.schema = schema
        self.fragments = fragments
        # Fragment name -> its selections, normalized once on its type condition (which alone decides what
        # they are) and shared by every spread: a fragment spread 2^k times is normalized once, not 2^k
        # times. The planner and the shaper read them and never write them.
        self._normalized: dict[str, list[Selection]] = {}
        self.defers = False  # a fragment carries @defer

    def selections(
        self, selection_set: SelectionSetNode, parent: str, seen: frozenset[str]
    ) -> list[Selection]:
        """The selections of `selection_set` on type `parent`; `seen`: the fragments being expanded (a
        fragment cycle expands once)."""
        out: list[Selection] = []
        for node in selection_set.selections:
            conditions = _conditions(node.directives)
            if conditions is None:
                continue
            selection = self._selection(node, parent, conditions, seen)
            if selection is not None:
                out.append(selection)
        return out

    def _selection(
        self, node: SelectionNode, parent: str, conditions: tuple[Condition, ...], seen: frozenset[str]
    ) -> Selection | None:
        if isinstance(node, FieldNode):
            return self._field(node, parent, conditions, seen)
        if isinstance(node, InlineFragmentNode):
            condition = node.type_condition.name.value if node.type_condition else None
            return Fragment(
                condition,
                conditions,
                self.selections(node.selection_set, condition or parent, seen),
                self._deferral(node.directives),
            )
        if isinstance(node, FragmentSpreadNode):
            name = node.name.value
            if name in seen or name not in self.fragments:
                return None
            fragment = self.fragments[name]
            fragment_conditions = _conditions(fragment.directives)
            if fragment_conditions is None:
                return None
            condition = fragment.type_condition.name.value
            sub = self._normalized.get(name)
            if sub is None:
                sub = self._normalized[name] = self.selections(
                    fragment.selection_set, condition, seen | {name}
                )
            return Fragment(condition, conditions + fragment_conditions, sub, self._deferral(node.directives))
        return None

    def _deferral(self, directives: tuple[DirectiveNode, ...] | list | None) -> Deferral | None:
        """The fragment's @defer (label, `if` variable), or None without one or with `if: false`."""
        for directive in directives or ():
            if directive.name.value != "defer":
                continue
            label = variable = None
            for arg in directive.arguments or ():
                if arg.name.value == "label" and isinstance(arg.value, StringValueNode):
                    label = arg.value.value
                elif arg.name.value == "if":
                    if isinstance(arg.value, BooleanValueNode) and not arg.value.value:
                        return None
                    if isinstance(arg.value, VariableNode):
                        variable = arg.value.name.value
            self.defers = True
            return Deferral(label, variable)
        return None

    def _field(
        self, node: FieldNode, parent: str, conditions: tuple[Condition, ...], seen: frozenset[str]
    ) -> Field:
        name = node.name.value
        key = (node.alias or node.name).value
        alias = node.alias.value if node.alias else None
        if name == "__typename":
            return Field(name, key, alias, "", frozenset(), conditions, parent, "String", True, ("!",))
        arguments, variables = _print_arguments(node)
        if name in _INTROSPECTION:
            return Field(name, key, alias, arguments, variables, conditions, parent, name, False, ())
        field_def = self.schema.type_map[parent].fields[name]  # type: ignore[union-attr]
        named = get_named_type(field_def.type)
        wrappers = _wrappers(field_def.type)
        sub = None
        if node.selection_set is not None:
            sub = self.selections(node.selection_set, named.name, seen)
        return Field(
            name=name,
            response_key=key,
            alias=alias,
            arguments=arguments,
            variables=variables,
            conditions=conditions,
            parent_type=parent,
            type_name=named.name,
            non_null=bool(wrappers) and wrappers[0] == "!",
            wrappers=wrappers,
            selections=sub,
        )


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
