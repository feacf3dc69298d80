"""Demand control's prices (router/pipeline/cost.py), Apollo Router's static estimate: written operations
against a small supergraph composed inline with `@cost` and `@listSize` (Federation 2.9), each with the cost
Apollo's algorithm gives it; the enforce and measure modes at the gateway; the actual cost of answers."""

from __future__ import annotations

import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pytest
from graphql import FragmentDefinitionNode, OperationDefinitionNode, parse

from router.pipeline.cost import DemandControlConfig, Estimate
from router.pipeline.errors import COST_ESTIMATED_TOO_EXPENSIVE, COST_QUERY_PARSE_FAILURE, RequestError
from router.pipeline.gateway import Gateway
from router.pipeline.request import GraphQLRequest
from router.pipeline.variables import coerce_variables
from router.supergraph import ListSize, load_supergraph
from shared.composition import compose

REPO = Path(__file__).resolve().parents[2]
HEADER = (
    'extend schema @link(url: "https://specs.apollo.dev/federation/v2.9", '
    'import: ["@key", "@shareable", "@external", "@requires", "@cost", "@listSize"])\n'
)
PRODUCTS = """
type Query {
  product(id: ID!): Product
  products(first: Int = 20, after: String): ProductConnection!
    @listSize(slicingArguments: ["first"], sizedFields: ["edges", "nodes"])
  search(text: String! @cost(weight: 5), first: Int, last: Int): [Product!]!
    @listSize(slicingArguments: ["first", "last"], requireOneSlicingArgument: false)
  hot(first: Int, last: Int): [Product!]! @listSize(slicingArguments: ["first", "last"])
  categories: [Category!]! @listSize(assumedSize: 4)
  recent: [Product!]!
}
type Mutation { createProduct(input: ProductInput!): Product! @cost(weight: 7) }
type ProductConnection { edges: [ProductEdge!]! nodes: [Product!]! total: Int @cost(weight: 3) }
type ProductEdge { cursor: String! node: Product! }
type Product @key(fields: "id") { id: ID! name: String! price: Money! dimensions: Dimensions @shareable }
type Dimensions @shareable { size: Int }
type Money { amount: Int! currency: Currency! }
enum Currency @cost(weight: 2) { EUR USD }
type Category { name: String! }
input ProductInput { name: String! price: MoneyInput! @cost(weight: 4) }
input MoneyInput { amount: Int! currency: String! }
"""
SHIPPING = """
type Product @key(fields: "id") {
  id: ID!
  dimensions: Dimensions @external
  shippingEstimate: Int @requires(fields: "dimensions { size }")
}
type Dimensions @shareable { size: Int }
"""
ON = DemandControlConfig(enabled=True, mode="enforce", max=1_000_000, list_size=10)


@pytest.fixture(scope="module")
def supergraph() -> str:
    sources = [("products", "http://127.0.0.1:1/graphql", HEADER + PRODUCTS)]
    sources.append(("shipping", "http://127.0.0.1:2/graphql", HEADER + SHIPPING))
    return compose(sources, repo_root=REPO)


@pytest.fixture(scope="module")
def gateway(supergraph: str) -> Gateway:
    return Gateway.from_supergraph(supergraph, demand_control=ON)


def estimate(gateway: Gateway, query: str, variables: Mapping[str, Any] | None = None) -> float | None:
    """The estimate of `query` as the gateway makes it: parsed, validated, its variables coerced."""
    request = GraphQLRequest(query, dict(variables) if variables else None, None)
    prepared, node = gateway._select(request)
    coerced = coerce_variables(gateway.api_schema, node, request.variables)
    return gateway.cost.check(query, None, node, prepared.fragments, coerced)


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        # An object 1; scalars and __typename nothing.
        ('{ product(id: "1") { __typename id name } }', 1),
        ('{ product(id: "1") { price { amount } } }', 2),
        # An enum costs its type's @cost.
        ('{ product(id: "1") { price { currency } } }', 4),
        # A list without @listSize: `list_size` (10) items.
        ("{ recent { id } }", 10),
        # `first` sizes the connection's edges and nodes (sizedFields); the connection itself is one object.
        ("{ products(first: 5) { edges { node { id } } nodes { id } } }", 1 + 5 * 2 + 5),
        # Without `first`, its default (20).
        ("{ products { nodes { id } } }", 21),
        # A field's @cost replaces its type's.
        ("{ products(first: 2) { total } }", 4),
        # The largest slicing argument given; an argument's @cost.
        ('{ search(text: "tea", first: 3, last: 8) { id } }', 8 + 5),
        # assumedSize without a slicing argument.
        ("{ categories { name } }", 4),
        # Fragments cost what they select, inline or named (price twice: an estimate merges nothing).
        (
            '{ product(id: "1") { ... on Product { price { amount } } ...P } }'
            " fragment P on Product { price { currency } }",
            1 + 1 + (1 + 2),
        ),
        # The @requires selection of shippingEstimate (dimensions, an object) is priced with it.
        ('{ product(id: "1") { shippingEstimate } }', 2),
        # A mutation 10; the field's @cost; an input object 1 plus its fields (price: its @cost 4).
        (
            'mutation { createProduct(input: {name: "a", price: {amount: 1, currency: "EUR"}}) { id } }',
            10 + (7 + 0) + (1 + 4),
        ),
    ],
)
def test_written_operations_cost_what_apollos_algorithm_gives(
    gateway: Gateway, query: str, expected: int
) -> None:
    assert estimate(gateway, query) == expected


def test_a_variable_sizes_a_list_and_such_an_estimate_is_not_cached(gateway: Gateway) -> None:
    query = "query Page($n: Int) { products(first: $n) { nodes { id } } }"
    assert estimate(gateway, query, {"n": 7}) == 8
    assert estimate(gateway, query, {"n": 2}) == 3
    assert not gateway.cost.cached(query)
    # A text no variable changes is priced once.
    fixed = "{ products(first: 3) { nodes { id } } }"
    assert estimate(gateway, fixed) == 4
    assert gateway.cost.cached(fixed)


def test_a_negative_slicing_argument_takes_nothing_off_the_rest(gateway: Gateway) -> None:
    # The subgraph refuses `first: -1000000`; its page must not pay for the others.
    query = (
        "query($n: Int) { a: products(first: -1000000) { nodes { id } }"
        " b: products(first: $n) { nodes { id } } }"
    )
    assert estimate(gateway, query, {"n": -5}) == 1 + 1
    assert estimate(gateway, query, {"n": 100}) == 1 + 101


def test_a_variable_input_object_costs_like_the_literal_one(gateway: Gateway) -> None:
    query = "mutation($i: ProductInput!) { createProduct(input: $i) { id } }"
    variables = {"i": {"name": "a", "price": {"amount": 1, "currency": "EUR"}}}
    assert estimate(gateway, query, variables) == 10 + 7 + 1 + 4


def test_skip_and_include_leave_their_selections_out(gateway: Gateway) -> None:
    query = """query($s: Boolean!) {
      product(id: "1") { price @skip(if: $s) { amount } }
      recent @include(if: false) { id }
    }"""
    assert estimate(gateway, query, {"s": True}) == 1
    assert estimate(gateway, query, {"s": False}) == 2


def test_a_fragment_bomb_is_priced_as_expanded_without_expanding_it(gateway: Gateway) -> None:
    # F40 spreads F39 twice, ... F1 spreads F0 twice: 2^40 products once expanded.
    fragments = ['fragment F0 on Query { product(id: "1") { id } }']
    fragments += [f"fragment F{i} on Query {{ ...F{i - 1} ...F{i - 1} }}" for i in range(1, 41)]
    document = parse("{ ...F40 } " + " ".join(fragments))
    operation = document.definitions[0]
    assert isinstance(operation, OperationDefinitionNode)
    named = {d.name.value: d for d in document.definitions if isinstance(d, FragmentDefinitionNode)}
    assert gateway.cost.prices is not None
    started = time.perf_counter()
    priced = Estimate(gateway.cost.prices, named, {}, 10).operation(operation, gateway.api_schema)
    assert priced == 2**40
    assert time.perf_counter() - started < 0.05


def test_a_required_slicing_argument_missing_is_refused_in_enforce_mode(supergraph: str) -> None:
    enforce = Gateway.from_supergraph(supergraph, demand_control=ON)
    with pytest.raises(RequestError) as refused:
        estimate(enforce, "{ hot { id } }")
    assert refused.value.code == COST_QUERY_PARSE_FAILURE
    # Two of them are as wrong as none; exactly one is priced.
    with pytest.raises(RequestError):
        estimate(enforce, "{ hot(first: 1, last: 2) { id } }")
    assert estimate(enforce, "{ hot(last: 2) { id } }") == 2
    measure = Gateway.from_supergraph(supergraph, demand_control=ON.model_copy(update={"mode": "measure"}))
    assert estimate(measure, "{ hot { id } }") is None


async def test_enforce_refuses_an_operation_over_max_before_any_fetch(supergraph: str) -> None:
    config = DemandControlConfig(enabled=True, mode="enforce", max=100)
    gateway = Gateway.from_supergraph(supergraph, demand_control=config)
    with pytest.raises(RequestError) as refused:
        # Its subgraphs' ports are closed: a fetch would answer errors, not raise.
        await gateway.execute("{ products(first: 100) { nodes { id } } }")
    assert refused.value.code == COST_ESTIMATED_TOO_EXPENSIVE
    extensions = refused.value.errors[0]["extensions"]
    assert extensions["cost.estimated"] == 101
    assert extensions["cost.max"] == 100
    # At the limit it runs.
    planned = gateway.plan(GraphQLRequest("{ products(first: 99) { nodes { id } } }", None, None))
    assert planned.plan is not None


def test_measure_mode_plans_an_operation_over_max(supergraph: str) -> None:
    config = DemandControlConfig(enabled=True, mode="measure", max=100)
    gateway = Gateway.from_supergraph(supergraph, demand_control=config)
    planned = gateway.plan(GraphQLRequest("{ products(first: 100) { nodes { id } } }", None, None))
    assert planned.plan is not None
    assert estimate(gateway, "{ products(first: 100) { nodes { id } } }") == 101


def test_off_by_default(supergraph: str) -> None:
    gateway = Gateway.from_supergraph(supergraph)
    assert estimate(gateway, "{ products(first: 100) { nodes { id } } }") is None


def test_list_size_prices_lists_without_list_size(supergraph: str) -> None:
    gateway = Gateway.from_supergraph(supergraph, demand_control=ON.model_copy(update={"list_size": 3}))
    assert estimate(gateway, "{ recent { price { amount } } }") == 3 * 2


def actual(
    gateway: Gateway, query: str, data: dict[str, Any], variables: dict[str, Any] | None = None
) -> float:
    request = GraphQLRequest(query, variables, None)
    prepared, node = gateway._select(request)
    measured = gateway.cost.measure(query, None, node, prepared.fragments, variables or {}, {"data": data})
    assert measured is not None
    return measured


def test_the_actual_cost_counts_the_objects_returned(gateway: Gateway) -> None:
    query = "{ products(first: 50) { edges { node { id price { amount currency } } } } }"
    node = {"id": "1", "price": {"amount": 1, "currency": "EUR"}}
    data = {"products": {"edges": [{"node": node}, {"node": {**node, "price": None}}]}}
    # The connection 1; each edge 1 and node 1; a price 1 and its currency 2; a null price nothing.
    assert actual(gateway, query, data) == 1 + 2 * 2 + (1 + 2)
    assert actual(gateway, query, {"products": None}) == 0
    # Asked again (its pricing compiled once), the same.
    assert actual(gateway, query, data) == 1 + 2 * 2 + (1 + 2)


def test_the_actual_cost_can_be_left_unmeasured(supergraph: str) -> None:
    gateway = Gateway.from_supergraph(supergraph, demand_control=ON.model_copy(update={"actual_cost": False}))
    prepared, node = gateway._select(GraphQLRequest("{ recent { id } }", None, None))
    data = {"data": {"recent": [{"id": "1"}]}}
    assert gateway.cost.measure("{ recent { id } }", None, node, prepared.fragments, {}, data) is None
    assert estimate(gateway, "{ recent { id } }") == 10


def test_the_actual_cost_prices_a_key_once_whatever_selects_it(gateway: Gateway) -> None:
    query = '{ product(id: "1") { price { amount } ...P } } fragment P on Product { price { currency } }'
    data = {"product": {"price": {"amount": 1, "currency": "EUR"}}}
    assert actual(gateway, query, data) == 1 + 1 + 2


def test_the_actual_cost_of_a_mutation_has_its_base_and_arguments(gateway: Gateway) -> None:
    query = "mutation($i: ProductInput!) { createProduct(input: $i) { id } }"
    variables = {"i": {"name": "a", "price": {"amount": 1, "currency": "EUR"}}}
    assert actual(gateway, query, {"createProduct": {"id": "1"}}, variables) == 10 + 7 + (1 + 4)


def test_the_supergraph_model_carries_cost_and_list_size(supergraph: str) -> None:
    model, _, names = load_supergraph(supergraph)
    assert (names.cost, names.list_size) == ("cost", "listSize")
    products = model.field("Query", "products")
    assert products is not None
    assert products.list_size == ListSize(None, ("first",), ("edges", "nodes"), True)
    search = model.field("Query", "search")
    assert search is not None and search.argument_costs == {"text": 5}
    assert search.list_size is not None and not search.list_size.require_one_slicing_argument
    assert model.types["Currency"].cost == 2
    price = model.field("ProductInput", "price")
    assert price is not None and price.cost == 4


def test_a_renamed_cost_spec_is_read_by_its_names() -> None:
    sdl = """
    schema @link(url: "https://specs.apollo.dev/link/v1.0")
      @link(url: "https://specs.apollo.dev/join/v0.5", for: EXECUTION)
      @link(
        url: "https://specs.apollo.dev/cost/v0.1", as: "price", import: [{name: "@listSize", as: "@size"}]
      )
    { query: Query }
    directive @price(weight: Int!) on FIELD_DEFINITION
    directive @size(assumedSize: Int) on FIELD_DEFINITION
    enum join__Graph { A @join__graph(name: "a", url: "http://a") }
    type Query @join__type(graph: A) { things: [Int] @size(assumedSize: 7) @price(weight: 3) }
    """
    model, _, names = load_supergraph(sdl)
    assert (names.cost, names.list_size) == ("price", "size")
    things = model.field("Query", "things")
    assert things is not None
    assert (things.cost, things.list_size) == (3, ListSize(assumed_size=7))
