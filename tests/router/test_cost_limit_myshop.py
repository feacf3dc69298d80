"""router.yaml's demand control limit against MyShop's own queries: every operation of the README and of the
tests that drive the shop passes it, as do the heaviest pages a client may legitimately ask for, while the
issue's 1,000 aliases of `products(first: 100)` do not."""

from __future__ import annotations

import ast
import json
import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from graphql import FragmentDefinitionNode, GraphQLError, OperationDefinitionNode, parse, validate

from router.config import RouterConfig
from router.pipeline.cost import DemandControlConfig, Estimate
from router.pipeline.gateway import Gateway

REPO = Path(__file__).resolve().parents[2]
# The tests that drive the shop through its API (not those that attack it, nor the router's own units).
SHOP_TESTS = [
    *(REPO / "tests" / name for name in ("users", "products", "orders", "payments", "inventory")),
    *(REPO / "tests" / name for name in ("notifications", "analytics", "shipping")),
    REPO / "tests" / "router" / "test_myshop_e2e.py",
    REPO / "tests" / "router" / "test_subscriptions_myshop.py",
    REPO / "tests" / "test_up.py",
    REPO / "tests" / "test_subgraph_app.py",
]
PRODUCT = (
    "id sku name description price { amount currency } category active createdAt updatedAt"
    " stock { available reserved onHand } inStock"
    " stats { views searches unitsSold revenue { amount currency } }"
)
ORDER = (
    "id status total { amount currency } createdAt user { id email name }"
    " items { quantity unitPrice { amount currency } lineTotal { amount currency }"
    " product { id name price { amount currency } } }"
    " payment { id status method amount { amount currency } } statusHistory { status reason at }"
)


@pytest.fixture(scope="module")
def limit() -> DemandControlConfig:
    config = RouterConfig.load(REPO / "router.yaml").demand_control
    assert config.enabled and config.mode == "enforce"
    return config


@pytest.fixture(scope="module")
def gateway(limit: DemandControlConfig) -> Gateway:
    # The limit itself is checked by the tests: this gateway prices everything.
    pricing = limit.model_copy(update={"max": float("inf")})
    return Gateway.from_supergraph(
        (REPO / "schema" / "supergraph.graphql").read_text(), demand_control=pricing
    )


def texts() -> Iterator[tuple[str, str]]:
    """(where, text) of every string that may be a GraphQL document: the README's request bodies, the shop
    tests' string constants."""
    readme = (REPO / "README.md").read_text()
    for body in re.findall(r"-d '(\{\"query\".*?\})'", readme):
        yield "README.md", json.loads(body)["query"]
    for root in SHOP_TESTS:
        for path in sorted(root.rglob("*.py")) if root.is_dir() else [root]:
            for node in ast.walk(ast.parse(path.read_text())):
                if isinstance(node, ast.Constant) and isinstance(node.value, str) and "{" in node.value:
                    yield f"{path.relative_to(REPO)}:{node.lineno}", node.value


def shop_operations(gateway: Gateway) -> list[tuple[str, str, float]]:
    """(where, operation text, estimate with no variables given: arguments at their defaults)."""
    found = []
    assert gateway.cost.prices is not None
    for where, text in texts():
        try:
            document = parse(text)
        except GraphQLError:
            continue
        if validate(gateway.api_schema, document):
            continue
        fragments = {d.name.value: d for d in document.definitions if isinstance(d, FragmentDefinitionNode)}
        for operation in document.definitions:
            if isinstance(operation, OperationDefinitionNode):
                estimate = Estimate(gateway.cost.prices, fragments, {}, 10)
                found.append(
                    (where, " ".join(text.split()), estimate.operation(operation, gateway.api_schema))
                )
    return found


def price(gateway: Gateway, query: str) -> float:
    document = parse(query)
    operation = document.definitions[0]
    assert isinstance(operation, OperationDefinitionNode) and not validate(gateway.api_schema, document)
    assert gateway.cost.prices is not None
    return Estimate(gateway.cost.prices, {}, {}, 10).operation(operation, gateway.api_schema)


def test_every_readme_and_shop_test_operation_passes_the_limit(
    gateway: Gateway, limit: DemandControlConfig
) -> None:
    operations = shop_operations(gateway)
    assert len(operations) >= 80  # the scan found the shop's operations (99 when written)
    assert any(where == "README.md" for where, _, _ in operations)
    over = [(where, text[:120], cost) for where, text, cost in operations if cost > limit.max]
    assert over == []
    # The heaviest of them, for the record (a mutation registering and creating a product: 213).
    assert max(cost for _, _, cost in operations) < limit.max / 10


def test_the_heaviest_legitimate_pages_pass_the_limit(gateway: Gateway, limit: DemandControlConfig) -> None:
    products = "{ products(first: 100) { totalCount pageInfo { hasNextPage } edges { cursor node { %s } } } }"
    assert price(gateway, products % PRODUCT) == 802
    orders = "{ orders(first: 100) { pageInfo { hasNextPage } edges { node { %s } } } }"
    assert price(gateway, orders % ORDER) == 6202
    assert price(gateway, orders % ORDER) <= limit.max
    zones = (
        "{ shippingZones { id name countries methods { id name carrier currency active rateKind"
        " flatPrice { amount currency } freeAbove { amount currency }"
        " weightBands { maxGrams price { amount } } } } }"
    )
    assert price(gateway, zones) <= limit.max


def test_a_thousand_aliases_of_a_full_page_are_over_the_limit(
    gateway: Gateway, limit: DemandControlConfig
) -> None:
    query = "{" + " ".join(f"a{i}: products(first: 100) {{ nodes {{ id }} }}" for i in range(1000)) + "}"
    assert price(gateway, query) == 101_000
    assert price(gateway, query) > limit.max
