"""The actual cost of an answer (router/pipeline/cost.py measures it), as Apollo Router prices one: each
object in the data 1 (or its field's `@cost`), each scalar or null its field's `@cost` (else 0), each item of
a list priced like its field, each field's arguments once per object holding it. Lists count their items.

The answer can be large (a page of 100 products under 1,000 aliases is 100,000 objects), so the operation's
selections are compiled once per response shape into flat lists of the fields that can cost something (a
free scalar without arguments is left out), and the walk over the data does little more than dict lookups."""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from graphql import (
    FieldNode,
    FragmentDefinitionNode,
    FragmentSpreadNode,
    InlineFragmentNode,
    SelectionSetNode,
)

from router.pipeline.pricing import Prices

if TYPE_CHECKING:
    from router.pipeline.cost import Estimate

# Selection sets, each with the type it selects on.
Selections = tuple[tuple[SelectionSetNode, str], ...]


class _Field:
    """A response key of an object: what its values cost, and the selections below it."""

    __slots__ = ("arguments", "below", "child", "key", "leaf_weight", "object_weight")

    def __init__(
        self, key: str, object_weight: float, leaf_weight: float, arguments: float, below: Selections
    ):
        self.key = key
        self.object_weight = object_weight
        self.leaf_weight = leaf_weight
        self.arguments = arguments
        self.below = below
        self.child: list[_Field] | None = None  # compiled when a value of the field is an object


class ActualCost:
    """The pricing of one operation's answers, kept across its requests: a compiled field list is kept unless
    a variable shaped it (an @skip/@include condition, a priced argument), then it is compiled per request."""

    def __init__(
        self,
        prices: Prices,
        fragments: Mapping[str, FragmentDefinitionNode],
        selection_set: SelectionSetNode,
        root: str,
    ) -> None:
        self.prices = prices
        self.fragments = fragments
        self.root: Selections = ((selection_set, root),)
        self._root_fields: list[_Field] | None = None
        # The request's estimate (set by `of`) prices arguments and reads @skip/@include with its variables.
        self.estimate: Estimate | None = None

    def of(self, estimate: Estimate, data: Mapping[str, Any]) -> float:
        """The cost of `data`, the answer to the operation with `estimate`'s variables."""
        self.estimate = estimate
        fields = self._root_fields
        if fields is None:
            fields, shaped_by_variables = self._compile(self.root)
            if not shaped_by_variables:
                self._root_fields = fields
        return self._object(fields, data)

    def _object(self, fields: list[_Field], data: Mapping[str, Any]) -> float:
        """The cost of an object and everything below it: a walk with its own stack (no call per object,
        which would cost as much as the pricing itself)."""
        cost = 0.0
        stack: list[tuple[list[_Field], Mapping[str, Any]]] = [(fields, data)]
        pop, push = stack.pop, stack.append
        while stack:
            fields, data = pop()
            for field in fields:
                value = data.get(field.key, _MISSING)
                if value is _MISSING:
                    continue
                cost += field.arguments
                if type(value) is dict:
                    cost += field.object_weight
                    push((self._child(field) if field.child is None else field.child, value))
                elif type(value) is list:
                    for item in _flat(value):
                        if type(item) is dict:
                            cost += field.object_weight
                            push((self._child(field) if field.child is None else field.child, item))
                        else:
                            cost += field.leaf_weight
                else:
                    cost += field.leaf_weight
        return cost

    def _child(self, field: _Field) -> list[_Field]:
        """The compiled fields below `field`, kept on it unless a variable shaped them."""
        child, shaped_by_variables = self._compile(field.below)
        if not shaped_by_variables:
            field.child = child
        return child

    def _compile(self, selections: Selections) -> tuple[list[_Field], bool]:
        """The fields of `selections` by response key, fragments flattened and each fragment visited once
        (GraphQL's CollectFields), each priced; and whether a variable changed them."""
        estimate = self.estimate
        assert estimate is not None
        estimate.uses_variables = False
        grouped: dict[str, tuple[str, list[FieldNode]]] = {}
        visited: set[str] = set()
        stack = list(selections)
        skipped = estimate.skipped
        while stack:
            selection_set, parent = stack.pop()
            for node in selection_set.selections:
                if skipped(node.directives):
                    continue
                if isinstance(node, FieldNode):
                    grouped.setdefault((node.alias or node.name).value, (parent, []))[1].append(node)
                elif isinstance(node, InlineFragmentNode):
                    condition = node.type_condition.name.value if node.type_condition else parent
                    stack.append((node.selection_set, condition))
                elif isinstance(node, FragmentSpreadNode) and node.name.value not in visited:
                    visited.add(node.name.value)
                    fragment = self.fragments.get(node.name.value)
                    if fragment is not None:
                        stack.append((fragment.selection_set, fragment.type_condition.name.value))
        compiled = []
        for key, (parent, nodes) in grouped.items():
            first = nodes[0]
            price = self.prices.fields.get((parent, first.name.value))
            if price is None:  # __typename, introspection
                continue
            arguments = sum(
                estimate.argument(argument.value, price.arguments.get(argument.name.value))
                for argument in first.arguments or ()
            )
            below = tuple((n.selection_set, price.type_name) for n in nodes if n.selection_set is not None)
            if not below and not price.weight and not arguments:
                continue  # a free scalar (or enum): nothing it holds costs anything
            object_weight = float(1 if price.weight is None else price.weight)
            compiled.append(_Field(key, object_weight, float(price.weight or 0), arguments, below))
        return compiled, estimate.uses_variables


_MISSING = object()


def _flat(items: list[Any]) -> list[Any]:
    """A list's items, lists in it (a `[[T]]` field) flattened: each item is priced like its field."""
    if not any(type(item) is list for item in items):
        return items
    flat: list[Any] = []
    for item in items:
        flat.extend(_flat(item) if type(item) is list else (item,))
    return flat
