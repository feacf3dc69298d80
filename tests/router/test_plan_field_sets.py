"""Plans around field sets: @requires fields with arguments, entity keys a subgraph cannot answer,
and keys already in the response (subgraph SDLs inline, the expected printed plan)."""

from __future__ import annotations

from plan_helpers import expect, gateway_of

CATALOG = """
type Query { products: [Product] }
type Product @key(fields: "sku") { sku: ID! name: String price(currency: String!): Int }
"""

SHIPPING = """
type Product @key(fields: "sku") {
  sku: ID!
  price(currency: String!): Int @external
  shippingCost: Int @requires(fields: "price(currency: \\"EUR\\")")
  dutyCost: Int @requires(fields: "price(currency: \\"USD\\")")
}
"""


def test_required_field_with_arguments_is_fetched_under_its_own_alias_beside_the_clients() -> None:
    gateway = gateway_of(("catalog", CATALOG), ("shipping", SHIPPING))
    expect(
        gateway,
        '{ products { name price(currency: "GBP") shippingCost } }',
        """
        QueryPlan {
          Sequence {
            Fetch(service: "catalog") {
              {
                products {
                  name
                  price(currency: "GBP")
                  __typename
                  sku
                  price__5608dd58: price(currency: "EUR")
                }
              }
            },
            Flatten(path: "products.@") {
              Fetch(service: "shipping") {
                {
                  ... on Product {
                    __typename
                    sku
                    price__5608dd58: price(currency: "EUR")
                  }
                } =>
                {
                  ... on Product {
                    shippingCost
                  }
                }
              },
            },
          },
        }
        """,
    )


def test_fields_requiring_one_field_with_different_arguments_take_separate_fetches() -> None:
    gateway = gateway_of(("catalog", CATALOG), ("shipping", SHIPPING))
    plan = gateway.plan_text("{ products { shippingCost dutyCost } }")
    assert plan.count('Fetch(service: "shipping")') == 2
    assert "Parallel {" in plan
    assert 'price__5608dd58: price(currency: "EUR")' in plan
    assert 'price__0b28cac4: price(currency: "USD")' in plan


CARRIERS = """
type Query { parcels: [Parcel] @shareable }
type Parcel @key(fields: "id") { id: ID! @external carrier: String }
"""

PARCELS = """
type Query { parcels: [Parcel] @shareable }
type Parcel @key(fields: "id") { id: ID! weight: Int }
"""


def test_an_external_key_field_is_taken_from_the_subgraph_that_resolves_it() -> None:
    gateway = gateway_of(("carriers", CARRIERS), ("parcels", PARCELS))
    expect(
        gateway,
        "{ parcels { id carrier } }",
        """
        QueryPlan {
          Sequence {
            Fetch(service: "parcels") {
              {
                parcels {
                  id
                  __typename
                }
              }
            },
            Flatten(path: "parcels.@") {
              Fetch(service: "carriers") {
                {
                  ... on Parcel {
                    __typename
                    id
                  }
                } =>
                {
                  ... on Parcel {
                    carrier
                  }
                }
              },
            },
          },
        }
        """,
    )


STOREFRONT = """
type Query { product: Product }
type Product @key(fields: "id") { id: ID! name: String }
"""

TAXONOMY = """
type Product @key(fields: "id") { id: ID! @external category: Category @shareable }
type Category { id: ID @shareable }
"""

MERCHANDISING = """
type Product @key(fields: "id") { id: ID! @external category: Category @shareable }
type Category { label: String }
"""


def test_a_key_already_in_the_response_lets_sibling_entity_fetches_run_in_parallel() -> None:
    gateway = gateway_of(("storefront", STOREFRONT), ("taxonomy", TAXONOMY), ("merchandising", MERCHANDISING))
    expect(
        gateway,
        "{ product { name category { id label } } }",
        """
        QueryPlan {
          Sequence {
            Fetch(service: "storefront") {
              {
                product {
                  name
                  __typename
                  id
                }
              }
            },
            Parallel {
              Flatten(path: "product") {
                Fetch(service: "merchandising") {
                  {
                    ... on Product {
                      __typename
                      id
                    }
                  } =>
                  {
                    ... on Product {
                      category {
                        label
                      }
                    }
                  }
                },
              },
              Flatten(path: "product") {
                Fetch(service: "taxonomy") {
                  {
                    ... on Product {
                      __typename
                      id
                    }
                  } =>
                  {
                    ... on Product {
                      category {
                        id
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
