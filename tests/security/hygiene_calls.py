"""Calls generated from the public API schema (the router's, from schema/supergraph.graphql): one per string
argument (String, ID or a custom scalar, directly or inside input objects and lists) of every Query and
Mutation field and of every field reached from Query without arguments (`me { orders(after:) }`), with
otherwise valid-looking values and one bad string in that argument, as a variable or as a literal."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from graphql import (
    GraphQLArgument,
    GraphQLEnumType,
    GraphQLField,
    GraphQLInputField,
    GraphQLInputObjectType,
    GraphQLInputType,
    GraphQLList,
    GraphQLNonNull,
    GraphQLObjectType,
    GraphQLScalarType,
    GraphQLSchema,
    ast_from_value,
    get_named_type,
    is_composite_type,
    print_ast,
)
from graphql.pyutils import Undefined

from router.supergraph import build_api_schema, load_supergraph

REPO = Path(__file__).resolve().parents[2]
NOT_TEXT = frozenset({"Int", "Float", "Boolean"})


def api_schema() -> GraphQLSchema:
    _, document, names = load_supergraph((REPO / "schema" / "supergraph.graphql").read_text())
    return build_api_schema(document, names)


def root_owners() -> dict[str, str]:
    """Each Query and Mutation field of the supergraph and the subgraph that resolves it (the first one)."""
    supergraph, _, _ = load_supergraph((REPO / "schema" / "supergraph.graphql").read_text())
    owners: dict[str, str] = {}
    for root in (supergraph.query_type, supergraph.mutation_type):
        assert root is not None
        for name, field in supergraph.types[root].fields.items():
            if field.resolvers:
                owners[name] = supergraph.subgraphs[sorted(field.resolvers)[0]].name
    return owners


@dataclass(frozen=True)
class Call:
    """One request: `field` (reached through `via`, root fields first) with `path` holding the bad string."""

    operation: str  # "query" or "mutation"
    via: tuple[str, ...]  # fields from the root down to the field's parent, none for a root field
    field: str
    path: str  # `input.items.0.productId`
    scalar: str  # the type of the argument at `path`: String, ID or a custom scalar (DateTime)
    document: str
    variables: dict[str, Any]

    @property
    def name(self) -> str:
        return ".".join((*self.via, self.field)) + f"({self.path})"


def _text_paths(type_: GraphQLInputType, path: str) -> Iterator[tuple[str, str]]:
    """Every argument path of `type_` that holds a string (the target of one call each), with its scalar."""
    named = get_named_type(type_)
    index = ".0" if isinstance(_nullable(type_), GraphQLList) else ""
    if isinstance(named, GraphQLScalarType) and named.name not in NOT_TEXT:
        yield path + index, named.name
    elif isinstance(named, GraphQLInputObjectType):
        for name, field in named.fields.items():
            yield from _text_paths(field.type, f"{path}{index}.{name}")


def _nullable(type_: Any) -> Any:
    return type_.of_type if isinstance(type_, GraphQLNonNull) else type_


class Values:
    """Valid-looking values by GraphQL type and argument name; ids are those of the seeded rows."""

    def __init__(self, ids: dict[str, str], bad: str) -> None:
        self.ids = ids  # "product", "user"
        self.bad = bad

    def text(self, name: str, scalar: str) -> Any:
        if scalar == "ID":
            return self.ids["user"] if name == "userId" else self.ids["product"]
        if scalar == "DateTime":
            return "2026-01-01T00:00:00Z"
        unique = uuid.uuid4().hex[:12]
        return {
            "email": f"hygiene-{unique}@example.com",
            "password": "correct horse battery",
            "currency": "USD",
            "sku": f"HYG-{unique.upper()}",
            "idempotencyKey": unique,
            "paymentMethod": "tok_approve",
        }.get(name, f"hygiene {name}")

    def value(self, type_: Any, name: str, target: str | None, path: str) -> Any:
        """A value for an argument or input field at `path`; `target` is the path that gets the bad string."""
        type_ = _nullable(type_)
        if isinstance(type_, GraphQLList):
            return [self.value(type_.of_type, name, target, f"{path}.0")]
        if isinstance(type_, GraphQLInputObjectType):
            return {
                field_name: self.value(field.type, field_name, target, f"{path}.{field_name}")
                for field_name, field in type_.fields.items()
                if _wanted(field, f"{path}.{field_name}", target)
            }
        if isinstance(type_, GraphQLEnumType):
            return next(iter(type_.values))
        if isinstance(type_, GraphQLScalarType) and type_.name not in NOT_TEXT:
            good = self.text(name, type_.name)
            return f"{good}{self.bad}" if path == target else good
        return {"Int": 5 if name in ("first", "limit") else 1, "Float": 1.0, "Boolean": False}[type_.name]


def _wanted(argument: GraphQLArgument | GraphQLInputField, path: str, target: str | None) -> bool:
    """Required arguments and input fields, and those on the way to the target."""
    required = isinstance(argument.type, GraphQLNonNull) and argument.default_value is Undefined
    return required or (target is not None and (target == path or target.startswith(f"{path}.")))


def _reachable(schema: GraphQLSchema) -> Iterator[tuple[str, tuple[str, ...], GraphQLObjectType]]:
    """Each root type, and each object type one argument-free field of Query leads to (`me` → User)."""
    assert schema.query_type is not None and schema.mutation_type is not None
    yield "query", (), schema.query_type
    yield "mutation", (), schema.mutation_type
    for name, field in schema.query_type.fields.items():
        target = get_named_type(field.type)
        if not field.args and isinstance(target, GraphQLObjectType) and not target.name.startswith("_"):
            yield "query", (name,), target


def subscription_calls(schema: GraphQLSchema, values: Values) -> list[Call]:
    """One call per string argument path of each Subscription field, with variables."""
    assert schema.subscription_type is not None
    return [
        _call("subscription", (), field_name, field, targeted, values, False)
        for field_name, field in schema.subscription_type.fields.items()
        for argument_name, argument in field.args.items()
        for targeted in _text_paths(argument.type, argument_name)
    ]


def _selection(field: GraphQLField) -> str:
    return " { __typename }" if is_composite_type(get_named_type(field.type)) else ""


def _document(
    operation: str, via: tuple[str, ...], field_name: str, field: GraphQLField, arguments: str
) -> str:
    inner = f"{field_name}{arguments}{_selection(field)}"
    for parent in reversed(via):
        inner = f"{parent} {{ {inner} }}"
    return f"{operation} Hygiene{{vars}} {{ {inner} }}"


def calls(schema: GraphQLSchema, values: Values, *, literal: bool) -> list[Call]:
    """One call per string argument path of the API (see the module's doc)."""
    made: list[Call] = []
    seen: set[tuple[str, str]] = set()
    for operation, via, parent in _reachable(schema):
        for field_name, field in parent.fields.items():
            if (parent.name, field_name) in seen:
                continue
            for argument_name, argument in field.args.items():
                for target, scalar in _text_paths(argument.type, argument_name):
                    made.append(_call(operation, via, field_name, field, (target, scalar), values, literal))
            seen.add((parent.name, field_name))
    return made


def _call(
    operation: str,
    via: tuple[str, ...],
    field_name: str,
    field: GraphQLField,
    targeted: tuple[str, str],
    values: Values,
    literal: bool,
) -> Call:
    target, scalar = targeted
    arguments = {
        name: (argument, values.value(argument.type, name, target, name))
        for name, argument in field.args.items()
        if _wanted(argument, name, target)
    }
    render: Callable[[str, GraphQLArgument, Any], str] = (
        (lambda name, argument, value: print_ast(ast_from_value(value, argument.type)))  # type: ignore[arg-type]
        if literal
        else (lambda name, argument, value: f"${name}")
    )
    printed = ", ".join(f"{name}: {render(name, arg, value)}" for name, (arg, value) in arguments.items())
    declared = ", ".join(f"${name}: {arg.type}" for name, (arg, _) in arguments.items())
    document = _document(operation, via, field_name, field, f"({printed})" if printed else "")
    document = document.replace("{vars}", "" if literal or not declared else f"({declared})")
    variables = {} if literal else {name: value for name, (_, value) in arguments.items()}
    return Call(operation, via, field_name, target, scalar, document, variables)
