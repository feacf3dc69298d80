"""Plain fields answered without graphql-core's completion chain.

A listing page is hundreds of fields that only read an attribute: `edges { cursor node { id name price
{ amount currency } } }`. graphql-core completes each object by collecting its subfields, building a path
and a resolve info per field, checking each result for an awaitable: about 20 µs per object, most of a
listing's time once its SQL is done. A *plain* field is one read from its parent object alone: an attribute
(no resolver), or a synchronous method taking only `self` (`def stock(self) -> Stock`); no permission or
field extension, no argument, no directive. When a field and its whole selection are plain, `plan` compiles
them once per request into one function that reads them and builds the answer directly.

The function refuses (raises) on anything unusual: a null where none may be, a value a scalar will not
serialize, an object of another type, a list that is not one. The caller then takes graphql-core's own path
for that field, which reads the same attributes again and makes the error graphql-core makes, at its path.
"""

from __future__ import annotations

import keyword
from collections.abc import Callable
from operator import attrgetter
from types import CodeType
from typing import Any

from graphql import (
    FieldNode,
    GraphQLBoolean,
    GraphQLEnumType,
    GraphQLField,
    GraphQLID,
    GraphQLInt,
    GraphQLList,
    GraphQLNonNull,
    GraphQLObjectType,
    GraphQLOutputType,
    GraphQLScalarType,
    GraphQLString,
    GraphQLUnionType,
    InlineFragmentNode,
    Undefined,
    is_leaf_type,
)
from strawberry.types.cast import TYPE_CAST_ATTRIBUTE

Complete = Callable[[Any], Any]
# Reads a field's value from its parent object.
Read = Callable[[Any], Any]
_INT_MIN, _INT_MAX = -(2**31), 2**31 - 1  # GraphQL's Int: 32 bits


class Refused(Exception):
    """A value the plain path does not answer: graphql-core's path makes the answer (or the error)."""


REFUSED = Refused()


class Plans:
    """Plans kept by the parsed field they answer and its parent type: the parse cache
    (`shared.graphql_lifecycle.Documents`) hands the same nodes for the same operation, so each is planned
    once, not per request. At `limit` plans (one per distinct field of the cached operations) all are dropped
    and made again."""

    def __init__(self, limit: int = 20_000, planner: Callable[[Any, FieldNode], Any] | None = None) -> None:
        self.limit = limit
        # `plan` (a field of a parent type), or `completion` (a value of a type, as a field's node selects it)
        self.planner = planner or plan
        # (id(type), id(node)) -> (the type, the node, kept alive so the ids stay theirs; plan)
        self._plans: dict[tuple[int, int], tuple[Any, FieldNode, Any]] = {}

    def get(self, kind: Any, node: FieldNode) -> Any:
        key = (id(kind), id(node))
        known = self._plans.get(key)
        if known is not None and known[0] is kind and known[1] is node:
            return known[2]
        if len(self._plans) >= self.limit:
            self._plans.clear()
        planned = self.planner(kind, node)
        self._plans[key] = (kind, node, planned)
        return planned


def plan(parent_type: GraphQLObjectType, node: FieldNode) -> tuple[Read, Complete] | None:
    """How to answer the field of `parent_type` that `node` selects: the function reading its value from the
    parent object, and the function answering from that value; None when the field or anything in its
    selection is not plain."""
    if node.name.value == "__typename":
        return None if node.directives else (_typename(parent_type.name), _same)
    field = parent_type.fields.get(node.name.value)
    read = _reader(field, node) if field is not None else None
    complete = _complete(field.type, node) if read is not None else None  # type: ignore[union-attr]
    return None if complete is None else (read, complete)  # type: ignore[return-value]


def completion(kind: GraphQLOutputType, node: FieldNode) -> Complete | None:
    """How to answer a value of `kind` that a field's resolver returned, `node` selecting from it (a page's
    lines read by a DataLoader: the resolver is not plain, what it returns is); None when anything in the
    selection is not plain."""
    return _complete(kind, node)


def _typename(name: str) -> Read:
    return lambda _source: name


def _same(value: Any) -> Any:
    return value


def _reader(field: GraphQLField, node: FieldNode) -> Read | None:
    """How to read `field` from its parent object without resolve info; None when it is not plain."""
    resolve = field.resolve
    if resolve is None or node.arguments or node.directives:
        return None
    definition = (field.extensions or {}).get("strawberry-definition")
    # Strawberry's resolver of a field without resolver or extension (`is_basic_field`): `field.get_result`
    # without info, which calls the field's default resolver (`getattr`) with its Python name: an
    # `attrgetter` here, read in C. A field with a permission also says `_is_default`, but runs its
    # extensions: not plain.
    if getattr(resolve, "_is_default", False) and getattr(resolve, "__name__", "") == "_get_basic_result":
        name = getattr(definition, "python_name", None)
        if getattr(definition, "default_resolver", None) is getattr and isinstance(name, str):
            return attrgetter(name)
        return lambda source: resolve(source, None)
    # A method of the type taking only `self`: Strawberry would build an Info, convert no arguments and call
    # it with the parent object as `self`; called directly here. (No schema of ours sets exception handlers,
    # which would wrap the call.)
    resolver = getattr(definition, "base_resolver", None)
    if resolver is None or definition.extensions or definition.is_async or definition.arguments:
        return None
    own = resolver.self_parameter
    if own is None or list(resolver.signature.parameters) != [own.name]:
        return None
    return resolver.wrapped_func  # type: ignore[no-any-return]


def _complete(kind: GraphQLOutputType, node: FieldNode) -> Complete | None:
    non_null = isinstance(kind, GraphQLNonNull)
    if non_null:
        kind = kind.of_type  # type: ignore[union-attr]
    if isinstance(kind, GraphQLList):
        item = _complete(kind.of_type, node)
        return None if item is None else _list(item, non_null)
    if is_leaf_type(kind):
        return None if node.selection_set else _leaf(kind, non_null)  # type: ignore[arg-type]
    if node.selection_set is None:
        return None
    if isinstance(kind, GraphQLObjectType):
        return _object(kind, node.selection_set.selections, non_null)
    if isinstance(kind, GraphQLUnionType):
        return _union(kind, node.selection_set.selections, non_null)
    return None  # an interface: graphql-core resolves the type


def _leaf(kind: GraphQLScalarType | GraphQLEnumType, non_null: bool) -> Complete:
    serialize = kind.coerce_output_value

    def leaf(value: Any) -> Any:
        if value is None:
            if non_null:
                raise REFUSED
            return None
        serialized = serialize(value)
        if serialized is None or serialized is Undefined:
            raise REFUSED
        return serialized

    # The built-in scalars answer a value of their own Python type as it is (an Int within 32 bits): that
    # check alone, inline, for the common case; anything else goes through `serialize` as graphql-core would.
    # `inline` names the check for an object's compiled answer (`_compiled`), which writes it in its source.
    if kind is GraphQLString or kind is GraphQLID:
        check: Any = lambda value: value if value.__class__ is str else leaf(value)  # noqa: E731
        check.inline = "str"
    elif kind is GraphQLBoolean:
        check = lambda value: value if value.__class__ is bool else leaf(value)  # noqa: E731
        check.inline = "bool"
    elif kind is GraphQLInt:
        check = lambda value: (  # noqa: E731
            value if value.__class__ is int and _INT_MIN <= value <= _INT_MAX else leaf(value)
        )
        check.inline = "int"
    else:
        return leaf
    # In a compiled answer, the value failing the inline check goes to `leaf` itself.
    check.fallback = leaf
    return check  # type: ignore[no-any-return]


def _list(item: Complete, non_null: bool) -> Complete:
    def items(value: Any) -> Any:
        if value is None:
            if non_null:
                raise REFUSED
            return None
        if not isinstance(value, list | tuple):
            raise REFUSED
        return [item(element) for element in value]

    return items


def _union(kind: GraphQLUnionType, selections: Any, non_null: bool) -> Complete | None:
    """A union whose selection is only inline fragments on its object types (`_entities { ... on Product
    { stock } }`, what a router sends): the value's own Strawberry class says which fragment answers it, as
    Strawberry's type resolver would; a type of the union that no fragment selects answers `{}`."""
    by_name = {member.name: member for member in kind.types}
    answers: dict[type, Complete | None] = {}
    for member in kind.types:
        origin = getattr((member.extensions or {}).get("strawberry-definition"), "origin", None)
        if not isinstance(origin, type) or origin in answers:
            return None
        answers[origin] = _EMPTY
    for selection in selections:
        condition = getattr(selection, "type_condition", None)
        if not isinstance(selection, InlineFragmentNode) or selection.directives or condition is None:
            return None  # a field or __typename beside the fragments, a fragment spread, @skip, @include
        member = by_name.get(condition.name.value)
        origin = (
            getattr((member.extensions or {}).get("strawberry-definition"), "origin", None)
            if member
            else None
        )
        if member is None or answers.get(origin) is not _EMPTY:
            return None  # an interface's fragment, or two on one type: graphql-core collects those
        answers[origin] = _object(member, selection.selection_set.selections, non_null)
        if answers[origin] is None:
            return None

    def answer(value: Any) -> Any:
        if value is None:
            if non_null:
                raise REFUSED
            return None
        complete = answers.get(value.__class__)
        # Not one of its types' own classes, or cast (`strawberry.cast`): Strawberry's resolver decides.
        if complete is None or getattr(value, TYPE_CAST_ATTRIBUTE, None) is not None:
            raise REFUSED
        return complete(value)

    return answer


def _empty(value: Any) -> Any:
    return {}


_EMPTY: Complete = _empty


def _object(kind: GraphQLObjectType, selections: Any, non_null: bool) -> Complete | None:
    is_type_of = kind.is_type_of
    if is_type_of is not None and not getattr(is_type_of, "__module__", "").startswith("strawberry."):
        return None  # an `is_type_of` of our own may read the resolve info
    fields: list[tuple[str, Read | None, Complete | None]] = []
    keys = set()
    for selection in selections:
        if not isinstance(selection, FieldNode) or selection.directives:
            return None  # fragments, @skip, @include, @defer: graphql-core collects those
        key = selection.alias.value if selection.alias else selection.name.value
        if key in keys:
            return None  # one key selected twice: graphql-core merges the selections
        keys.add(key)
        if selection.name.value == "__typename":
            fields.append((key, None, None))
            continue
        field = kind.fields.get(selection.name.value)
        read = _reader(field, selection) if field is not None else None
        complete = _complete(field.type, selection) if read is not None else None  # type: ignore[union-attr]
        if complete is None:
            return None
        fields.append((key, read, complete))
    return _compiled(kind.name, fields, is_type_of, non_null)


def _compiled(
    name: str, fields: list[tuple[str, Read | None, Complete | None]], is_type_of: Any, non_null: bool
) -> Complete:
    """One object's answer as one function, its source written here: a dict display of its fields in the
    selection's order, each read as an attribute (`value.sku`) and, for the built-in scalars, its type
    checked inline. Against a loop over (key, read, complete) with a call per read and per check, a listing
    edge costs about half as many instructions (bench/service_cpu.py --instructions).

    Nothing of the request enters the source: keys (aliases are the client's) and everything else are names
    in the function's namespace (`k0`, `c0`); attribute names only when they are Python identifiers of the
    schema's own fields (`_attribute`)."""
    namespace: dict[str, Any] = {"REFUSED": REFUSED, "is_type_of": is_type_of, "name": name}
    items = []
    for index, (key, read, complete) in enumerate(fields):
        namespace[f"k{index}"] = key
        if read is None:
            items.append(f"k{index}: name")
            continue
        attribute = _attribute(read)
        value = f"value.{attribute}" if attribute else f"r{index}(value)"
        namespace[f"r{index}"] = read
        check = _INLINE_CHECKS.get(getattr(complete, "inline", None))  # type: ignore[arg-type]
        if check is None:
            namespace[f"c{index}"] = complete
            items.append(f"k{index}: c{index}({value})")
        else:  # the value failing the inline check goes to the scalar's own answer
            namespace[f"c{index}"] = complete.fallback  # type: ignore[union-attr]
            items.append(f"k{index}: v if {check.format(f'(v := {value})')} else c{index}(v)")
    source = [
        "def answer(value):",
        "    if value is None:",
        "        raise REFUSED" if non_null else "        return None",
    ]
    if is_type_of is not None:
        # Strawberry's own check (an instance of the type, or of one of its interfaces); it reads no info.
        source += ["    if not is_type_of(value, None):", "        raise REFUSED"]
    source.append("    return {" + ", ".join(items) + "}")
    exec(_code("\n".join(source)), namespace)  # our own source: no request text in it (above)
    return namespace["answer"]  # type: ignore[no-any-return]


def _code(source: str) -> CodeType:
    """`source` compiled, once per distinct source (one per shape of selection: its length, each field's
    attribute and check): compiling costs about 15 µs per field, running compiled code into a namespace
    0.5 µs. At 4,096 sources all are dropped (a client can vary its selections)."""
    code = _CODES.get(source)
    if code is None:
        if len(_CODES) >= 4096:
            _CODES.clear()
        code = _CODES[source] = compile(source, "<shared.plain_fields>", "exec")
    return code


_CODES: dict[str, CodeType] = {}


def _attribute(read: Read) -> str | None:
    """The attribute `read` reads, when it is a plain `attrgetter` of one Python identifier."""
    if read.__class__ is not attrgetter:
        return None
    _, names = read.__reduce__()  # (attrgetter, its names), as pickle sees it
    attribute = names[0] if len(names) == 1 else None
    return attribute if attribute.isidentifier() and not keyword.iskeyword(attribute) else None


# A built-in scalar's own Python type, answered as it is (`_leaf`), checked inline; `{}` is the value.
_INLINE_CHECKS = {
    "str": "{}.__class__ is str",
    "bool": "{}.__class__ is bool",
    "int": f"{{}}.__class__ is int and {_INT_MIN} <= v <= {_INT_MAX}",
}
