"""Input hygiene for every subgraph: an argument value holding a character PostgreSQL cannot store (NUL, an
unpaired UTF-16 surrogate that JSON can carry) is refused with BAD_USER_INPUT naming the argument, before any
resolver runs, so no resolver has to remember it and no such value ever reaches SQL (where it failed as
INTERNAL with a traceback per request).

It is graphql-core's executor, built once per operation after the variables are coerced: the coerced variable
values (defaults included) and the document's literal strings are every string an argument can carry.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

from graphql import (
    ArgumentNode,
    DocumentNode,
    FieldNode,
    GraphQLError,
    ListValueNode,
    ObjectValueNode,
    OperationDefinitionNode,
    StringValueNode,
    ValueNode,
    VariableNode,
)
from strawberry.schema.schema import StrawberryGraphQLCoreExecutionContext

from shared import errors

# PostgreSQL's text types refuse NUL; UTF-8 (every MyShop database's encoding) cannot encode a lone surrogate.
_REFUSED = re.compile("[\x00\ud800-\udfff]")
# An operation naming more offenders than this is answered with the first ones: the point is made.
MAX_REPORTED = 20


def refused_text(value: str) -> bool:
    """Whether `value` holds a character no MyShop database can store."""
    # Most strings are ASCII: `isascii` and `in` are C loops, several times faster than the regex.
    if value.isascii():
        return "\x00" in value
    return _REFUSED.search(value) is not None


def holds_refused_text(value: Any) -> bool:
    """Whether a coerced value holds a string (or a mapping key) that cannot be stored: the hot path, once per
    variable of every request, so a loop over a stack that builds no path (paths are for the rare refusal),
    with exact type tests first (a coerced value is mostly plain str, dict and list)."""
    stack = [value]
    pop, push = stack.pop, stack.extend
    search = _REFUSED.search
    while stack:
        item = pop()
        kind = type(item)
        if kind is str or isinstance(item, str):
            if ("\x00" in item) if item.isascii() else (search(item) is not None):
                return True
        elif kind is dict or isinstance(item, dict):
            push(item)
            push(item.values())
        elif kind is list or isinstance(item, list | tuple):
            push(item)
    return False


def refused_paths(value: Any, path: str) -> Iterator[str]:
    """The paths (`input.items.0.productId`) of the strings in a coerced value that cannot be stored. Mapping
    keys count too: a JSON-like scalar (`_Any`) carries them to the database as well."""
    if isinstance(value, str):
        if refused_text(value):
            yield path
    elif isinstance(value, dict):
        for key, item in value.items():
            if isinstance(key, str) and refused_text(key):
                yield path
            else:
                yield from refused_paths(item, f"{path}.{key}")
    elif isinstance(value, list | tuple):
        for index, item in enumerate(value):
            yield from refused_paths(item, f"{path}.{index}")


@dataclass(frozen=True, slots=True)
class ArgumentStrings:
    """What the document of one operation says about its arguments' strings, worked out once per document."""

    # Arguments whose literal strings cannot be stored, whatever the variables.
    refused_literals: tuple[str, ...]
    # Each variable the document passes to an argument, with the path of the first argument it feeds.
    variables: tuple[tuple[str, str], ...]


def _value_strings(node: ValueNode, path: str, refused: list[str], variables: dict[str, str]) -> None:
    if isinstance(node, StringValueNode):
        if refused_text(node.value):
            refused.append(path)
    elif isinstance(node, VariableNode):
        variables.setdefault(node.name.value, path)
    elif isinstance(node, ObjectValueNode):
        for field in node.fields:
            _value_strings(field.value, f"{path}.{field.name.value}", refused, variables)
    elif isinstance(node, ListValueNode):
        for index, item in enumerate(node.values):
            _value_strings(item, f"{path}.{index}", refused, variables)


def _arguments(node: Any) -> Iterator[ArgumentNode]:
    """Every argument of fields and directives under `node` (an operation or a fragment definition)."""
    stack = [node]
    while stack:
        current = stack.pop()
        if isinstance(current, FieldNode):
            yield from current.arguments or ()
        for directive in getattr(current, "directives", None) or ():
            yield from directive.arguments or ()
        selection_set = getattr(current, "selection_set", None)
        if selection_set is not None:
            stack.extend(reversed(selection_set.selections))


def argument_strings(document: DocumentNode, operation: OperationDefinitionNode) -> ArgumentStrings:
    refused: list[str] = []
    variables: dict[str, str] = {}
    # The operation's own fields, then every fragment (validation allows no unused one); a fragment's
    # variable that this operation does not define has no value here and is skipped at check time.
    roots = [operation, *(d for d in document.definitions if not isinstance(d, OperationDefinitionNode))]
    for root in roots:
        for argument in _arguments(root):
            _value_strings(argument.value, argument.name.value, refused, variables)
    return ArgumentStrings(tuple(refused), tuple(variables.items()))


class _DocumentKey:
    """An `lru_cache` key: the query text and the operation's name, carrying the parsed document along (the
    same text parses to the same arguments, so the document is no part of equality)."""

    __slots__ = ("_hash", "document", "operation", "text")

    def __init__(self, text: str, document: DocumentNode, operation: OperationDefinitionNode) -> None:
        self.text = text
        self.document = document
        self.operation = operation
        self._hash = hash((text, operation.name.value if operation.name else None))

    def __hash__(self) -> int:
        return self._hash

    def __eq__(self, other: object) -> bool:
        return (
            isinstance(other, _DocumentKey)
            and self.text == other.text
            and (self.operation.name and self.operation.name.value)
            == (other.operation.name and other.operation.name.value)
        )


@lru_cache(maxsize=1024)  # as many as `shared.graphql_lifecycle.Documents` keeps documents
def _cached_argument_strings(key: _DocumentKey) -> ArgumentStrings:
    return argument_strings(key.document, key.operation)


def refused_arguments(
    document: DocumentNode, operation: OperationDefinitionNode, variable_values: dict[str, Any]
) -> list[str]:
    """The paths of `operation`'s arguments whose strings cannot be stored, given its coerced variables."""
    if document.loc is not None:
        strings = _cached_argument_strings(_DocumentKey(document.loc.source.body, document, operation))
    else:  # a document built in code, not parsed: no text to key a cache on
        strings = argument_strings(document, operation)
    refused = list(strings.refused_literals)
    for name, path in strings.variables:
        value = variable_values.get(name)
        if value is not None and holds_refused_text(value):
            refused.extend(refused_paths(value, path))
    return refused[:MAX_REPORTED]


def refusal(path: str) -> GraphQLError:
    return GraphQLError(
        f"`{path}` holds a character that cannot be stored (NUL or an unpaired surrogate).",
        extensions={"code": errors.BAD_USER_INPUT, "field": path},
    )


class InputHygieneExecutor(StrawberryGraphQLCoreExecutionContext):
    """Strawberry's executor, refusing an operation whose arguments carry a string that cannot be stored.
    `build` runs once per operation (queries, mutations and subscriptions alike), after variable coercion."""

    @classmethod
    def build(cls, *args: Any, **kwargs: Any) -> list[GraphQLError] | StrawberryGraphQLCoreExecutionContext:
        executor = super().build(*args, **kwargs)
        if isinstance(executor, list):  # the variables did not coerce: graphql-core's own errors
            return executor
        document = kwargs["document"] if "document" in kwargs else args[1]
        refused = refused_arguments(document, executor.operation, executor.variable_values.coerced)
        if refused:
            return [refusal(path) for path in refused]
        return executor
