"""Plans over interfaces, unions and @interfaceObject types (subgraph SDLs inline, the expected
printed plan)."""

from __future__ import annotations

import pytest
from plan_helpers import expect, gateway_of

from router.pipeline.gateway import Gateway

DIRECTORY = """
type Query { members: [Member!]! }
interface Member @key(fields: "id") { id: ID! handle: String }
type Customer implements Member @key(fields: "id") { id: ID! handle: String loyaltyTier: String }
type Supplier implements Member @key(fields: "id") { id: ID! handle: String vatNumber: String }
"""

PROFILES = """
type Query { featuredMembers: [Member] }
type Member @key(fields: "id") @interfaceObject {
  id: ID!
  handle: String @external
  displayName: String @requires(fields: "handle")
  avatarUrl: String
}
"""


@pytest.fixture(scope="module")
def members() -> Gateway:
    return gateway_of(("directory", DIRECTORY), ("profiles", PROFILES))


def test_an_objects_field_only_an_interface_object_defines_comes_from_that_subgraph(members: Gateway) -> None:
    expect(
        members,
        "{ members { ... on Customer { avatarUrl } } }",
        """
        QueryPlan {
          Sequence {
            Fetch(service: "directory") {
              {
                members {
                  __typename
                  ... on Customer {
                    id
                  }
                }
              }
            },
            Flatten(path: "members.@") {
              Fetch(service: "profiles") {
                {
                  ... on Customer {
                    __typename
                    id
                  }
                } =>
                {
                  ... on Member {
                    avatarUrl
                  }
                }
              },
            },
          },
        }
        """,
    )


def test_a_type_condition_under_an_interface_object_asks_the_real_type_of_the_owner(
    members: Gateway,
) -> None:
    expect(
        members,
        "{ featuredMembers { ... on Customer { loyaltyTier } } }",
        """
        QueryPlan {
          Sequence {
            Fetch(service: "profiles") {
              {
                featuredMembers {
                  __typename
                  id
                }
              }
            },
            Flatten(path: "featuredMembers.@") {
              Fetch(service: "directory") {
                {
                  ... on Member {
                    __typename
                    id
                  }
                } =>
                {
                  ... on Member {
                    __typename
                    ... on Customer {
                      loyaltyTier
                    }
                  }
                }
              },
            },
          },
        }
        """,
    )


def test_requires_in_the_subgraph_already_fetching_takes_an_entity_call_back_to_it(members: Gateway) -> None:
    expect(
        members,
        "{ featuredMembers { id displayName } }",
        """
        QueryPlan {
          Sequence {
            Fetch(service: "profiles") {
              {
                featuredMembers {
                  __typename
                  id
                }
              }
            },
            Flatten(path: "featuredMembers.@") {
              Fetch(service: "directory") {
                {
                  ... on Member {
                    __typename
                    id
                  }
                } =>
                {
                  ... on Member {
                    handle
                  }
                }
              },
            },
            Flatten(path: "featuredMembers.@") {
              Fetch(service: "profiles") {
                {
                  ... on Member {
                    __typename
                    id
                    handle
                  }
                } =>
                {
                  ... on Member {
                    displayName
                  }
                }
              },
            },
          },
        }
        """,
    )


def test_a_subgraph_returning_an_object_where_the_supergraph_has_a_union_drops_other_members() -> None:
    shop = """
    type Query { spotlight: Book @shareable }
    type Book @key(fields: "id") { id: ID! title: String }
    """
    media = """
    type Query { spotlight: Media @shareable }
    union Media = Book | Film
    type Book @key(fields: "id") { id: ID! }
    type Film @key(fields: "id") { id: ID! title: String }
    """
    gateway = gateway_of(("shop", shop), ("media", media))
    expect(
        gateway,
        "{ spotlight { ... on Film { title } ... on Book { title } } }",
        """
        QueryPlan {
          Fetch(service: "shop") {
            {
              spotlight {
                __typename
                title
              }
            }
          },
        }
        """,
    )


def test_an_interface_condition_is_split_by_type_where_the_subgraph_does_not_know_every_implementation() -> (
    None
):
    catalog = """
    type Query { items: [Item] }
    union Item = Lamp | Chair
    interface Node { id: ID! }
    type Lamp implements Node @key(fields: "id") { id: ID! }
    type Chair @key(fields: "id") { id: ID! }
    """
    pricing = """
    interface Node { id: ID! }
    type Lamp implements Node @key(fields: "id") { id: ID! price: Int }
    type Chair implements Node @key(fields: "id") { id: ID! price: Int }
    """
    gateway = gateway_of(("catalog", catalog), ("pricing", pricing))
    expect(
        gateway,
        "{ items { ... on Node { id } } }",
        """
        QueryPlan {
          Fetch(service: "catalog") {
            {
              items {
                __typename
                ... on Chair {
                  id
                }
                ... on Lamp {
                  id
                }
              }
            }
          },
        }
        """,
    )


def test_same_key_fields_of_different_subgraph_types_are_aliased_apart() -> None:
    ledger = """
    type Query { pallet: Pallet }
    type Pallet @key(fields: "id") { id: ID! code: String @shareable }
    """
    warehouse = """
    type Query { stock: [StockItem!]! }
    union StockItem = Pallet | Crate
    type Pallet @key(fields: "id") { id: ID! code: String! @shareable }
    type Crate { code: String }
    """
    gateway = gateway_of(("ledger", ledger), ("warehouse", warehouse))
    expect(
        gateway,
        "{ stock { ... on Pallet { code } ... on Crate { code } } }",
        """
        QueryPlan {
          Fetch(service: "warehouse") {
            {
              stock {
                __typename
                ... on Pallet {
                  code
                }
                ... on Crate {
                  code__alias_0: code
                }
              }
            }
          },
        }
        """,
    )


def test_between_plans_with_as_many_fetches_the_one_jumping_fewer_fields_wins() -> None:
    listing = """
    type Query { deals: [Deal] @shareable }
    union Deal = Coupon | Bundle
    type Coupon @key(fields: "id") { id: ID! }
    type Bundle @key(fields: "id") { id: ID! }
    """
    promo = """
    type Query { deals: [Deal] @shareable @provides(fields: "... on Coupon { code }") }
    union Deal = Coupon | Bundle
    type Coupon @key(fields: "id") { id: ID! code: String @external }
    type Bundle @key(fields: "id") { id: ID! }
    """
    codes = """
    type Coupon @key(fields: "id") { id: ID! code: String @shareable }
    type Bundle @key(fields: "id") { id: ID! code: String @shareable }
    """
    gateway = gateway_of(("listing", listing), ("promo", promo), ("codes", codes))
    plan = gateway.plan_text("{ deals { ... on Coupon { code } ... on Bundle { code } } }")
    assert 'Fetch(service: "promo")' in plan
    assert 'Fetch(service: "listing")' not in plan
    assert plan.count("Fetch(") == 2


def test_an_interface_field_another_subgraph_resolves_per_implementation_is_reached_by_their_keys() -> None:
    catalog = """
    type Query { products: [Product] }
    interface Product { id: ID! sku: String }
    type Book implements Product @key(fields: "id") { id: ID! sku: String }
    """
    reviews = """
    interface Product { id: ID! reviews: [Review] }
    type Book implements Product @key(fields: "id") { id: ID! reviews: [Review] }
    type Review { body: String product: Product }
    """
    gateway = gateway_of(("catalog", catalog), ("reviews", reviews))
    expect(
        gateway,
        "{ products { reviews { body product { sku } } } }",
        """
        QueryPlan {
          Sequence {
            Fetch(service: "catalog") {
              {
                products {
                  __typename
                  ... on Book {
                    id
                  }
                }
              }
            },
            Flatten(path: "products.@") {
              Fetch(service: "reviews") {
                {
                  ... on Book {
                    __typename
                    id
                  }
                } =>
                {
                  ... on Book {
                    reviews {
                      body
                      product {
                        __typename
                        ... on Book {
                          id
                        }
                      }
                    }
                  }
                }
              },
            },
            Flatten(path: "products.@.reviews.@.product") {
              Fetch(service: "catalog") {
                {
                  ... on Book {
                    __typename
                    id
                  }
                } =>
                {
                  ... on Book {
                    sku
                  }
                }
              },
            },
          },
        }
        """,
    )
