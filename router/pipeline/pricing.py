"""What each field and argument of the API schema costs under demand control (router/pipeline/cost.py), read
once per supergraph: the defaults of Apollo Router's static estimate (an object, interface or union 1, a
scalar or enum 0) overridden by the supergraph's `@cost` weights, and the `@listSize` of list fields."""

from __future__ import annotations

from dataclasses import dataclass, field

from graphql import (
    GraphQLArgument,
    GraphQLField,
    GraphQLInputField,
    GraphQLInputObjectType,
    GraphQLInterfaceType,
    GraphQLList,
    GraphQLNonNull,
    GraphQLObjectType,
    GraphQLSchema,
    GraphQLUnionType,
    IntValueNode,
    OperationDefinitionNode,
    SelectionSetNode,
    get_named_type,
    parse,
)

from router.supergraph.model import FieldInfo, ListSize, Supergraph


@dataclass(frozen=True, slots=True)
class InputPrice:
    """An argument or input field: its `@cost` weight (its own, else its type's), and its input object type
    when it is one (whose fields are priced too)."""

    weight: int | None
    input_type: str | None


@dataclass(frozen=True, slots=True)
class FieldPrice:
    """An output field: its `@cost` weight (its own, else its type's; None: the default of its type's kind),
    whether it returns a list, its `@listSize`, and what its arguments cost."""

    type_name: str
    weight: int | None
    default_weight: int  # 1 for objects, interfaces and unions, 0 for scalars and enums
    is_list: bool
    list_size: ListSize | None
    # Slicing arguments with an integer default: their size when the operation does not give them.
    slicing_defaults: dict[str, int] = field(default_factory=dict)
    arguments: dict[str, InputPrice] = field(default_factory=dict)
    # The @requires field set of the graph resolving it (parsed once), priced with the field: the planner
    # fetches it first.
    requires: SelectionSetNode | None = None

    @property
    def type_cost(self) -> int:
        return self.default_weight if self.weight is None else self.weight


class Prices:
    """Every field's and input field's price in `schema` (the API schema) with `supergraph`'s directives."""

    def __init__(self, schema: GraphQLSchema, supergraph: Supergraph) -> None:
        self.fields: dict[tuple[str, str], FieldPrice] = {}
        self.input_fields: dict[tuple[str, str], InputPrice] = {}
        types = supergraph.types
        self.type_weights = {name: info.cost for name, info in types.items() if info.cost is not None}
        for name, graphql_type in schema.type_map.items():
            if name.startswith("__"):
                continue
            info = types.get(name)
            known = info.fields if info is not None else {}
            if isinstance(graphql_type, (GraphQLObjectType, GraphQLInterfaceType)):
                for field_name, definition in graphql_type.fields.items():
                    self.fields[name, field_name] = self._field(definition, known.get(field_name))
            elif isinstance(graphql_type, GraphQLInputObjectType):
                for field_name, input_field in graphql_type.fields.items():
                    info_field = known.get(field_name)
                    own = info_field.cost if info_field is not None else None
                    self.input_fields[name, field_name] = self._input(input_field, own)

    def _field(self, definition: GraphQLField, info: FieldInfo | None) -> FieldPrice:
        named = get_named_type(definition.type)
        own = info.cost if info is not None else None
        list_size = info.list_size if info is not None else None
        slicing_defaults: dict[str, int] = {}
        if list_size is not None:
            for name in list_size.slicing_arguments:
                default = _int_default(definition.args.get(name))
                if default is not None:
                    slicing_defaults[name] = default
        argument_costs = info.argument_costs if info is not None else {}
        return FieldPrice(
            type_name=named.name,
            weight=own if own is not None else self.type_weights.get(named.name),
            default_weight=1
            if isinstance(named, (GraphQLObjectType, GraphQLInterfaceType, GraphQLUnionType))
            else 0,
            is_list=_is_list(definition.type),
            list_size=list_size,
            slicing_defaults=slicing_defaults,
            arguments={
                name: self._input(argument, argument_costs.get(name))
                for name, argument in definition.args.items()
            },
            requires=_requires(info),
        )

    def _input(self, definition: GraphQLArgument | GraphQLInputField, own: int | None) -> InputPrice:
        named = get_named_type(definition.type)
        return InputPrice(
            weight=own if own is not None else self.type_weights.get(named.name),
            input_type=named.name if isinstance(named, GraphQLInputObjectType) else None,
        )


def _int_default(argument: GraphQLArgument | None) -> int | None:
    """An argument's integer default (graphql-core 3.3 keeps an SDL default as its AST node)."""
    if argument is None:
        return None
    default = argument.default_value
    if isinstance(default, int) and not isinstance(default, bool):
        return default
    node = argument.ast_node.default_value if argument.ast_node is not None else None
    return int(node.value) if isinstance(node, IntValueNode) else None


def _is_list(type_: object) -> bool:
    while isinstance(type_, GraphQLNonNull):
        type_ = type_.of_type
    return isinstance(type_, GraphQLList)


def _requires(info: FieldInfo | None) -> SelectionSetNode | None:
    if info is None:
        return None
    for join in info.joins:
        if join.requires and join.graph in info.resolvers:
            operation = parse("{" + join.requires + "}", no_location=True).definitions[0]
            assert isinstance(operation, OperationDefinitionNode)
            return operation.selection_set
    return None
