"""Stage: demand control, as Apollo Router does it after the IBM GraphQL cost spec. The estimated cost of an
operation (from the supergraph's `@cost` and `@listSize`, router/pipeline/pricing.py) is checked against
`demand_control.max` once its variables are coerced, before its plan (cached, or made then) is looked up, so
a refused operation never reaches a subgraph; the actual cost is measured on the answer the router returns.
Both go to `/metrics`.

The estimate, Apollo's static one: an operation costs its base (a mutation 10, a query or subscription 0)
plus its fields; a field costs `instances x (its type's cost + its selections) + its arguments + its
@requires`, where a list's instances are its `@listSize` (the largest slicing argument given, else
`assumedSize`), the size a parent's `@listSize(sizedFields:)` gives it, or `list_size`. Fragments are priced
once per size they are spread under, so a fragment bomb costs its text, not its expansion.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal

from cachetools import LRUCache
from graphql import (
    BooleanValueNode,
    DirectiveNode,
    FieldNode,
    FragmentDefinitionNode,
    FragmentSpreadNode,
    GraphQLSchema,
    InlineFragmentNode,
    IntValueNode,
    ListValueNode,
    NullValueNode,
    ObjectValueNode,
    OperationDefinitionNode,
    OperationType,
    SelectionSetNode,
    ValueNode,
    VariableNode,
)
from pydantic import BaseModel, ConfigDict, Field

from router.ops.metrics import GraphQLMetrics
from router.pipeline.cost_actual import ActualCost
from router.pipeline.errors import (
    COST_ESTIMATED_TOO_EXPENSIVE,
    COST_QUERY_PARSE_FAILURE,
    RequestError,
    error,
)
from router.pipeline.pricing import FieldPrice, InputPrice, Prices
from router.supergraph.model import ListSize, Supergraph

COST_OK = "COST_OK"
MUTATION_COST = 10  # Apollo's base cost of a mutation (a query or subscription: 0)


class DemandControlConfig(BaseModel):
    """router.yaml's `demand_control:` (Apollo Router's `demand_control` with its `static_estimated`
    strategy, flattened)."""

    model_config = ConfigDict(extra="forbid")

    enabled: bool = False
    # enforce: an operation estimated over `max` is refused; measure: it runs, and the metrics show it.
    mode: Literal["enforce", "measure"] = "measure"
    max: float = Field(10000, gt=0)
    # How many items a list field without `@listSize` (or a size from its arguments) is assumed to return.
    list_size: int = Field(10, ge=0)
    # Price every answer too (the actual cost metric): a walk of the data, ~0.4 µs per object returned
    # (about a tenth of the router's CPU on a 300-object answer); false keeps only the estimate.
    actual_cost: bool = True


class CostError(Exception):
    """The operation cannot be priced (a `@listSize(requireOneSlicingArgument: true)` field given no
    slicing argument, or several)."""


@dataclass(frozen=True, slots=True)
class _Sized:
    """A parent's `@listSize`: the size it gives the lists among its `fields`."""

    size: int | None
    fields: tuple[str, ...]


class CostStage:
    """The estimate of each operation (cached by query text and operation name where no variable changes it),
    the check against the limit, and the actual cost of answers."""

    def __init__(
        self, config: DemandControlConfig, schema: GraphQLSchema, supergraph: Supergraph, cache_size: int
    ) -> None:
        self.config = config
        self.schema = schema
        self.prices = Prices(schema, supergraph) if config.enabled else None
        self._cache: LRUCache[tuple[str, str | None], float] | None = (
            LRUCache(cache_size) if cache_size > 0 else None
        )
        # Each operation's compiled pricing of its answers (router/pipeline/cost_actual.py).
        self._answers: LRUCache[tuple[str, str | None], ActualCost] = LRUCache(max(cache_size, 1))
        # The router's metrics, once telemetry is attached (none in process).
        self.metrics: GraphQLMetrics | None = None

    def check(
        self,
        query: str,
        operation_name: str | None,
        node: OperationDefinitionNode,
        fragments: Mapping[str, FragmentDefinitionNode],
        variables: Mapping[str, Any],
    ) -> float | None:
        """The operation's estimated cost (None when demand control is off); RequestError when it is over
        the limit in enforce mode (COST_ESTIMATED_TOO_EXPENSIVE) or cannot be priced
        (COST_QUERY_PARSE_FAILURE)."""
        if self.prices is None:
            return None
        config = self.config
        try:
            estimated = self._estimate(query, operation_name, node, fragments, variables)
        except CostError as exc:
            self._observe(None, COST_QUERY_PARSE_FAILURE)
            if config.mode == "enforce":
                raise RequestError.of(str(exc), COST_QUERY_PARSE_FAILURE) from None
            return None
        if estimated <= config.max:
            self._observe(estimated, COST_OK)
            return estimated
        self._observe(estimated, COST_ESTIMATED_TOO_EXPENSIVE)
        if config.mode == "enforce":
            raise RequestError(
                [
                    error(
                        f"query estimated cost {_number(estimated)} exceeded configured maximum "
                        f"{_number(config.max)}",
                        COST_ESTIMATED_TOO_EXPENSIVE,
                        **{"cost.estimated": estimated, "cost.max": config.max},
                    )
                ]
            )
        return estimated

    def measure(
        self,
        query: str,
        operation_name: str | None,
        node: OperationDefinitionNode,
        fragments: Mapping[str, FragmentDefinitionNode],
        variables: Mapping[str, Any],
        response: Mapping[str, Any],
    ) -> float | None:
        """The actual cost of `response` (the answer the router returns), recorded; None when off."""
        if self.prices is None or not self.config.actual_cost:
            return None
        data = response.get("data")
        actual = float(MUTATION_COST if node.operation is OperationType.MUTATION else 0)
        if isinstance(data, dict):
            key = (query, operation_name)
            pricing = self._answers.get(key)
            if pricing is None:
                root = self.schema.get_root_type(node.operation)
                assert root is not None
                pricing = self._answers[key] = ActualCost(
                    self.prices, fragments, node.selection_set, root.name
                )
            actual += pricing.of(Estimate(self.prices, fragments, variables, self.config.list_size), data)
        if self.metrics is not None:
            self.metrics.observe_actual_cost(actual)
        return actual

    def cached(self, query: str, operation_name: str | None = None) -> bool:
        """Whether the estimate of this text is kept (no variable changes it)."""
        return self._cache is not None and (query, operation_name) in self._cache

    def _estimate(
        self,
        query: str,
        operation_name: str | None,
        node: OperationDefinitionNode,
        fragments: Mapping[str, FragmentDefinitionNode],
        variables: Mapping[str, Any],
    ) -> float:
        key = (query, operation_name)
        cache = self._cache
        if cache is not None:
            cached = cache.get(key)
            if cached is not None:
                return cached
        assert self.prices is not None
        estimate = Estimate(self.prices, fragments, variables, self.config.list_size)
        cost = estimate.operation(node, self.schema)
        if cache is not None and not estimate.uses_variables:
            cache[key] = cost
        return cost

    def _observe(self, estimated: float | None, result: str) -> None:
        if self.metrics is not None:
            self.metrics.observe_estimated_cost(estimated, result)


def _number(value: float) -> str:
    return str(int(value)) if value == int(value) else str(value)


class Estimate:
    """One estimate: a walk of the operation's selections with the request's variables. `uses_variables`
    tells whether any variable changed it (else it holds for every request of the same text)."""

    def __init__(
        self,
        prices: Prices,
        fragments: Mapping[str, FragmentDefinitionNode],
        variables: Mapping[str, Any],
        list_size: int,
    ) -> None:
        self.prices = prices
        self.fragments = fragments
        self.variables = variables
        self.list_size = list_size
        self.uses_variables = False
        self._spreads: dict[tuple[str, _Sized | None], float] = {}
        self._requires: dict[tuple[str, str], float] = {}

    def operation(self, node: OperationDefinitionNode, schema: GraphQLSchema) -> float:
        root = schema.get_root_type(node.operation)
        assert root is not None
        base = MUTATION_COST if node.operation is OperationType.MUTATION else 0
        return base + self.selection_set(node.selection_set, root.name, None)

    def selection_set(self, selection_set: SelectionSetNode, parent: str, sized: _Sized | None) -> float:
        cost = 0.0
        for node in selection_set.selections:
            if self.skipped(node.directives):
                continue
            if isinstance(node, FieldNode):
                cost += self.field(node, parent, sized)
            elif isinstance(node, InlineFragmentNode):
                condition = node.type_condition.name.value if node.type_condition else parent
                cost += self.selection_set(node.selection_set, condition, sized)
            elif isinstance(node, FragmentSpreadNode):
                cost += self.spread(node.name.value, sized)
        return cost

    def spread(self, name: str, sized: _Sized | None) -> float:
        """A fragment's cost, once per size it is spread under: `...F ...F` costs F's walk once."""
        key = (name, sized)
        known = self._spreads.get(key)
        if known is not None:
            return known
        fragment = self.fragments.get(name)
        self._spreads[key] = 0.0  # a cycle (refused by validation anyway) costs nothing more
        cost = 0.0
        if fragment is not None:
            cost = self.selection_set(fragment.selection_set, fragment.type_condition.name.value, sized)
        self._spreads[key] = cost
        return cost

    def field(self, node: FieldNode, parent: str, sized: _Sized | None) -> float:
        name = node.name.value
        price = self.prices.fields.get((parent, name))
        if price is None:  # __typename, introspection (answered by the router itself)
            return 0.0
        own = self.own_size(price, node)
        count = 1
        if price.is_list:
            if sized is not None and name in sized.fields and sized.size is not None:
                count = sized.size
            elif own is not None and own.size is not None:
                count = own.size
            else:
                count = self.list_size
        cost = float(price.type_cost)
        if node.selection_set is not None:
            cost += self.selection_set(node.selection_set, price.type_name, own)
        cost *= count
        for argument in node.arguments or ():
            cost += self.argument(argument.value, price.arguments.get(argument.name.value))
        if price.requires is not None:
            cost += self.requirements(parent, name, price.requires)
        return cost

    def own_size(self, price: FieldPrice, node: FieldNode) -> _Sized | None:
        """The size the field's `@listSize` gives: the largest slicing argument (a literal, a variable, or
        the argument's default), else `assumedSize`."""
        list_size: ListSize | None = price.list_size
        if list_size is None:
            return None
        sizes = dict(price.slicing_defaults)
        for argument in node.arguments or ():
            argument_name = argument.name.value
            if argument_name not in list_size.slicing_arguments:
                continue
            value = argument.value
            # A negative size (the subgraph refuses it) must not take cost off the rest of the operation.
            if isinstance(value, IntValueNode):
                sizes[argument_name] = max(0, int(value.value))
            elif isinstance(value, VariableNode):
                self.uses_variables = True
                given = self.variables.get(value.name.value)
                if isinstance(given, int) and not isinstance(given, bool):
                    sizes[argument_name] = max(0, given)
        if list_size.require_one_slicing_argument and list_size.slicing_arguments and len(sizes) != 1:
            raise CostError(
                f"exactly one slicing argument of {', '.join(list_size.slicing_arguments)} is required on "
                f"field {node.name.value}, found {len(sizes)}"
            )
        size = max(sizes.values()) if sizes else list_size.assumed_size
        return _Sized(size, list_size.sized_fields)

    def argument(self, value: ValueNode, price: InputPrice | None) -> float:
        """An argument's cost as written: an input object 1 (or its `@cost`) plus its fields, a list its
        items, a scalar its `@cost` (else 0)."""
        if price is None or isinstance(value, NullValueNode):
            return 0.0
        if price.weight is None and price.input_type is None:
            return 0.0  # an unpriced scalar (or a list of them) is free whatever its value
        if isinstance(value, VariableNode):
            self.uses_variables = True
            return self.variable(self.variables.get(value.name.value), price)
        if isinstance(value, ObjectValueNode) and price.input_type is not None:
            cost = float(1 if price.weight is None else price.weight)
            for field in value.fields:
                cost += self.argument(
                    field.value, self.prices.input_fields.get((price.input_type, field.name.value))
                )
            return cost
        if isinstance(value, ListValueNode):
            return (price.weight or 0) + sum(self.argument(item, price) for item in value.values)
        return float(price.weight or 0)

    def variable(self, value: Any, price: InputPrice) -> float:
        """An argument's cost from a variable's (coerced) JSON value, priced as `argument` prices literals."""
        if value is None:
            return 0.0
        if isinstance(value, dict) and price.input_type is not None:
            cost = float(1 if price.weight is None else price.weight)
            for name, item in value.items():
                field = self.prices.input_fields.get((price.input_type, name))
                if field is not None:
                    cost += self.variable(item, field)
            return cost
        if isinstance(value, list):
            return (price.weight or 0) + sum(self.variable(item, price) for item in value)
        return float(price.weight or 0)

    def requirements(self, parent: str, name: str, selection_set: SelectionSetNode) -> float:
        """The cost of a field's @requires selection: the planner fetches it before the field."""
        key = (parent, name)
        known = self._requires.get(key)
        if known is None:
            known = self._requires[key] = self.selection_set(selection_set, parent, None)
        return known

    def skipped(self, directives: tuple[DirectiveNode, ...] | None) -> bool:
        """Whether @skip/@include (literal, or a variable's value) leave the selection out."""
        for directive in directives or ():
            name = directive.name.value
            if name not in ("skip", "include"):
                continue
            for argument in directive.arguments or ():
                value = argument.value
                if isinstance(value, VariableNode):
                    self.uses_variables = True
                    condition = self.variables.get(value.name.value) is True
                elif isinstance(value, BooleanValueNode):
                    condition = value.value
                else:
                    continue
                if condition != (name == "include"):
                    return True
        return False
