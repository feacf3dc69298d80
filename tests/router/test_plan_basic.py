"""Query plans over small composed supergraphs, compared as printed text (after Apollo's
build_query_plan_tests: subgraph SDLs inline, a query, the expected plan)."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from router.pipeline.gateway import Gateway
from shared.composition import compose

REPO = Path(__file__).resolve().parents[2]

ACCOUNTS = """
extend schema @link(url: "https://specs.apollo.dev/federation/v2.3", import: ["@key", "@shareable"])
type Query { me: User }
type User @key(fields: "id") { id: ID! name: String @shareable }
"""

REVIEWS = """
extend schema @link(url: "https://specs.apollo.dev/federation/v2.3", import: [
  "@key", "@external", "@provides"
])
type Review { id: ID! body: String author: User @provides(fields: "name") product: Product }
type User @key(fields: "id") { id: ID! name: String @external reviews: [Review] }
type Product @key(fields: "upc") { upc: String! reviews: [Review] }
"""

PRODUCTS = """
extend schema @link(url: "https://specs.apollo.dev/federation/v2.3", import: ["@key"])
type Query { topProducts: [Product] }
type Product @key(fields: "upc") { upc: String! name: String price: Int weight: Int }
"""

INVENTORY = """
extend schema @link(url: "https://specs.apollo.dev/federation/v2.3", import: [
  "@key", "@external", "@requires"
])
type Product @key(fields: "upc") {
  upc: String!
  price: Int @external
  weight: Int @external
  shippingEstimate: Int @requires(fields: "price weight")
}
"""


@pytest.fixture(scope="module")
def gateway() -> Gateway:
    sdl = compose(
        [
            ("accounts", "http://127.0.0.1:1/graphql", ACCOUNTS),
            ("reviews", "http://127.0.0.1:2/graphql", REVIEWS),
            ("products", "http://127.0.0.1:3/graphql", PRODUCTS),
            ("inventory", "http://127.0.0.1:4/graphql", INVENTORY),
        ],
        repo_root=REPO,
    )
    return Gateway.from_supergraph(sdl)


def expect(gateway: Gateway, query: str, plan: str) -> None:
    assert gateway.plan_text(query) == textwrap.dedent(plan).strip()


def test_root_fields_of_two_subgraphs_run_in_parallel(gateway: Gateway) -> None:
    expect(
        gateway,
        "{ me { name } topProducts { name } }",
        """
        QueryPlan {
          Parallel {
            Fetch(service: "accounts") {
              {
                me {
                  name
                }
              }
            },
            Fetch(service: "products") {
              {
                topProducts {
                  name
                }
              }
            },
          },
        }
        """,
    )


def test_entity_jump_fetches_the_key_from_the_parent_subgraph(gateway: Gateway) -> None:
    expect(
        gateway,
        "{ me { reviews { body } } }",
        """
        QueryPlan {
          Sequence {
            Fetch(service: "accounts") {
              {
                me {
                  __typename
                  id
                }
              }
            },
            Flatten(path: "me") {
              Fetch(service: "reviews") {
                {
                  ... on User {
                    __typename
                    id
                  }
                } =>
                {
                  ... on User {
                    reviews {
                      body
                    }
                  }
                }
              },
            },
          },
        }
        """,
    )


def test_provided_field_stays_in_the_providing_subgraph(gateway: Gateway) -> None:
    plan = gateway.plan_text("{ me { reviews { author { name } } } }")
    assert plan.count("Fetch(") == 2
    assert 'service: "accounts"' in plan.split("Flatten")[0]


def test_requires_fetches_required_fields_before_the_field(gateway: Gateway) -> None:
    expect(
        gateway,
        "{ topProducts { shippingEstimate } }",
        """
        QueryPlan {
          Sequence {
            Fetch(service: "products") {
              {
                topProducts {
                  __typename
                  upc
                  price
                  weight
                }
              }
            },
            Flatten(path: "topProducts.@") {
              Fetch(service: "inventory") {
                {
                  ... on Product {
                    __typename
                    upc
                    price
                    weight
                  }
                } =>
                {
                  ... on Product {
                    shippingEstimate
                  }
                }
              },
            },
          },
        }
        """,
    )


def test_include_with_a_variable_becomes_a_condition_node(gateway: Gateway) -> None:
    plan = gateway.plan_text(
        "query ($withReviews: Boolean!) { me { name reviews @include(if: $withReviews) { body } } }"
    )
    assert "Include(if: $withReviews) {" in plan
    assert "@include(if: $withReviews)" in plan


def test_plans_are_cached_by_query_text(gateway: Gateway) -> None:
    query = "{ me { name } }"
    gateway.plan_text(query)
    assert gateway.plans.cached(query)
