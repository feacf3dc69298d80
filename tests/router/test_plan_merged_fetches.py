"""Entity fetches to one subgraph that start together are one fetch: one `_entities` call over the
representations of all their paths (issue 8: the gateways benchmark's query in at most 7 fetches)."""

from __future__ import annotations

import pytest
from plan_helpers import REPO, expect, gateway_of

from router.pipeline.gateway import Gateway
from shared.composition import compose

BENCH = REPO / "bench" / "gateways"

PRODUCTS = """
type Query { topProducts: [Product] featured: Product featuredAuthor: User }
type Product @key(fields: "upc") { upc: String! name: String }
type User @key(fields: "id") { id: ID! }
"""
INVENTORY = """
type Product @key(fields: "upc") { upc: String! inStock: Boolean quantity: Int }
"""
REVIEWS = """
type Review { body: String }
type Product @key(fields: "upc") { upc: String! reviews: [Review] }
type User @key(fields: "id") { id: ID! reviews: [Review] }
"""
ACCOUNTS = """
type Query { me: User }
type User @key(fields: "id") { id: ID! name: String }
"""


@pytest.fixture(scope="module")
def gateway() -> Gateway:
    return gateway_of(
        ("products", PRODUCTS), ("inventory", INVENTORY), ("reviews", REVIEWS), ("accounts", ACCOUNTS)
    )


def test_two_paths_after_the_same_fetch_needing_the_same_fields_share_one_fetch(gateway: Gateway) -> None:
    expect(
        gateway,
        "{ topProducts { name inStock } featured { name inStock } }",
        """
        QueryPlan {
          Sequence {
            Fetch(service: "products") {
              {
                topProducts {
                  name
                  __typename
                  upc
                }
                featured {
                  name
                  __typename
                  upc
                }
              }
            },
            Flatten(paths: ["topProducts.@", "featured"]) {
              Fetch(service: "inventory") {
                {
                  ... on Product {
                    __typename
                    upc
                  }
                } =>
                {
                  ... on Product {
                    inStock
                  }
                }
              },
            },
          },
        }
        """,
    )


def test_entities_of_two_types_share_one_fetch_with_a_fragment_each(gateway: Gateway) -> None:
    expect(
        gateway,
        "{ topProducts { reviews { body } } featuredAuthor { reviews { body } } }",
        """
        QueryPlan {
          Sequence {
            Fetch(service: "products") {
              {
                topProducts {
                  __typename
                  upc
                }
                featuredAuthor {
                  __typename
                  id
                }
              }
            },
            Flatten(paths: ["topProducts.@", "featuredAuthor"]) {
              Fetch(service: "reviews") {
                {
                  ... on Product {
                    __typename
                    upc
                  }
                  ... on User {
                    __typename
                    id
                  }
                } =>
                {
                  ... on Product {
                    reviews {
                      body
                    }
                  }
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


def test_one_type_selected_differently_at_two_paths_keeps_two_fetches(gateway: Gateway) -> None:
    """A shared fetch would answer each path's entities the other's fields too."""
    expect(
        gateway,
        "{ topProducts { inStock } featured { quantity } }",
        """
        QueryPlan {
          Sequence {
            Fetch(service: "products") {
              {
                topProducts {
                  __typename
                  upc
                }
                featured {
                  __typename
                  upc
                }
              }
            },
            Parallel {
              Flatten(path: "topProducts.@") {
                Fetch(service: "inventory") {
                  {
                    ... on Product {
                      __typename
                      upc
                    }
                  } =>
                  {
                    ... on Product {
                      inStock
                    }
                  }
                },
              },
              Flatten(path: "featured") {
                Fetch(service: "inventory") {
                  {
                    ... on Product {
                      __typename
                      upc
                    }
                  } =>
                  {
                    ... on Product {
                      quantity
                    }
                  }
                },
              },
            },
          },
        }
        """,
    )


def test_a_fetch_under_a_condition_stays_apart_from_an_unconditional_one(gateway: Gateway) -> None:
    expect(
        gateway,
        "query ($x: Boolean!) { topProducts { inStock } featured @include(if: $x) { inStock } }",
        """
        QueryPlan {
          Sequence {
            Fetch(service: "products") {
              {
                topProducts {
                  __typename
                  upc
                }
                featured @include(if: $x) {
                  __typename
                  upc
                }
              }
            },
            Parallel {
              Flatten(path: "topProducts.@") {
                Fetch(service: "inventory") {
                  {
                    ... on Product {
                      __typename
                      upc
                    }
                  } =>
                  {
                    ... on Product {
                      inStock
                    }
                  }
                },
              },
              Include(if: $x) {
                Flatten(path: "featured") {
                  Fetch(service: "inventory") {
                    {
                      ... on Product {
                        __typename
                        upc
                      }
                    } =>
                    {
                      ... on Product {
                        inStock
                      }
                    }
                  },
                },
              },
            },
          },
        }
        """,
    )


def test_fetches_waiting_on_different_fetches_of_a_tree_plan_stay_apart(gateway: Gateway) -> None:
    """Each starts as soon as its own parent answers: sharing one would wait for the slower parent."""
    expect(
        gateway,
        "{ me { reviews { body } } featuredAuthor { reviews { body } } }",
        """
        QueryPlan {
          Parallel {
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
            Sequence {
              Fetch(service: "products") {
                {
                  featuredAuthor {
                    __typename
                    id
                  }
                }
              },
              Flatten(path: "featuredAuthor") {
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
          },
        }
        """,
    )


LEVEL_ACCOUNTS = """
type Query { me: User }
type User @key(fields: "id") { id: ID! name: String }
"""
LEVEL_REVIEWS = """
type Review { body: String product: Product }
type User @key(fields: "id") { id: ID! reviews: [Review] }
type Product @key(fields: "upc") { upc: String! reviews: [Review] }
"""
LEVEL_PRODUCTS = """
type Query { topProducts: [Product] }
type Product @key(fields: "upc") { upc: String! name: String price: Int }
"""
LEVEL_INVENTORY = """
type Product @key(fields: "upc") {
  upc: String!
  price: Int @external
  shippingEstimate: Int @requires(fields: "price")
}
"""


def test_fetches_on_one_level_of_a_level_by_level_plan_share_one_fetch_per_subgraph() -> None:
    gateway = gateway_of(
        ("accounts", LEVEL_ACCOUNTS),
        ("reviews", LEVEL_REVIEWS),
        ("products", LEVEL_PRODUCTS),
        ("inventory", LEVEL_INVENTORY),
    )
    expect(
        gateway,
        """
        {
          me { reviews { product { name shippingEstimate } } }
          topProducts { reviews { product { name shippingEstimate } } }
        }
        """,
        """
        QueryPlan {
          Sequence {
            Parallel {
              Fetch(service: "accounts") {
                {
                  me {
                    __typename
                    id
                  }
                }
              },
              Fetch(service: "products") {
                {
                  topProducts {
                    __typename
                    upc
                  }
                }
              },
            },
            Flatten(paths: ["me", "topProducts.@"]) {
              Fetch(service: "reviews") {
                {
                  ... on User {
                    __typename
                    id
                  }
                  ... on Product {
                    __typename
                    upc
                  }
                } =>
                {
                  ... on User {
                    reviews {
                      product {
                        __typename
                        upc
                      }
                    }
                  }
                  ... on Product {
                    reviews {
                      product {
                        __typename
                        upc
                      }
                    }
                  }
                }
              },
            },
            Flatten(paths: ["me.reviews.@.product", "topProducts.@.reviews.@.product"]) {
              Fetch(service: "products") {
                {
                  ... on Product {
                    __typename
                    upc
                  }
                } =>
                {
                  ... on Product {
                    name
                    price
                  }
                }
              },
            },
            Flatten(paths: ["me.reviews.@.product", "topProducts.@.reviews.@.product"]) {
              Fetch(service: "inventory") {
                {
                  ... on Product {
                    __typename
                    upc
                    price
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


def test_the_gateways_benchmark_query_takes_seven_fetches_one_per_subgraph_and_level() -> None:
    """Issue 8: Hive Gateway sends 7 subgraph requests for this query; we planned 13 before."""
    sources = [
        (name, f"http://127.0.0.1:{port}/graphql", (BENCH / "schemas" / f"{name}.graphql").read_text())
        for port, name in enumerate(("accounts", "inventory", "products", "reviews"), 1)
    ]
    gateway = Gateway.from_supergraph(compose(sources, repo_root=REPO))
    plan = gateway.plan_text((BENCH / "query.graphql").read_text())
    products_of_reviews = (
        'Flatten(paths: ["users.@.reviews.@.product", '
        '"users.@.reviews.@.product.reviews.@.author.reviews.@.product", '
        '"topProducts.@.reviews.@.author.reviews.@.product"]) {'
    )
    heads = [line.strip() for line in plan.splitlines() if "Fetch(service" in line or "Flatten(" in line]
    assert heads == [
        'Fetch(service: "accounts") {',
        'Fetch(service: "products") {',
        'Flatten(paths: ["users.@", "topProducts.@"]) {',
        'Fetch(service: "reviews") {',
        'Flatten(path: "topProducts.@") {',
        'Fetch(service: "inventory") {',
        products_of_reviews,
        'Fetch(service: "products") {',
        'Flatten(paths: ["users.@.reviews.@.product.reviews.@.author", "topProducts.@.reviews.@.author"]) {',
        'Fetch(service: "accounts") {',
        products_of_reviews,
        'Fetch(service: "inventory") {',
    ]
