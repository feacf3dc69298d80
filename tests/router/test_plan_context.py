"""Plans of fields with `@fromContext` arguments (Federation 2.8, router/planner/context.py), against Apollo's
planner on the same supergraph: the context's selection is fetched on the nearest ancestor setting it, and
the field by an entity fetch after it, passing `$contextualArgument_<subgraph>_<index>` (Apollo's names)."""

from __future__ import annotations

import pytest
from plan_helpers import REPO, expect

from router.pipeline.gateway import Gateway
from router.pipeline.request import GraphQLRequest
from router.planner.nodes import ContextRewrite
from shared.composition import compose

HEADER = (
    'extend schema @link(url: "https://specs.apollo.dev/federation/v2.8", '
    'import: ["@key", "@context", "@fromContext", "@external", "@shareable"])\n'
)
CATALOG = """
type Query @context(name: "viewer") { store: Store! stores: [Store!]! node: Node! me: Me! product: Product }
type Me { locale: String! }
type Store @key(fields: "id") @context(name: "store") { id: ID! shelf: Shelf! currency: String! aisle: Aisle }
type Aisle @key(fields: "id") @context(name: "store") { id: ID! shelf: Shelf! currency: String! }
type Shelf @key(fields: "id") {
  id: ID!
  label: String!
  total(currency: String @fromContext(field: "$store { currency }")): Int!
}
interface Node @context(name: "node") @key(fields: "id") { id: ID! badge: Badge! region: String! }
type Shop implements Node @key(fields: "id") { id: ID! badge: Badge! region: String! }
type Stall implements Node @key(fields: "id") { id: ID! badge: Badge! region: String! }
type Badge @key(fields: "id") {
  id: ID!
  text(region: String @fromContext(field: "$node { region }")): String!
}
type Product @key(fields: "id") {
  id: ID!
  price(locale: String @fromContext(field: "$viewer { me { locale } }")): Int!
}
type Review @key(fields: "id") { id: ID! rating: Int! }
"""
REVIEWS = """
type Query { review: Review! }
type Review @key(fields: "id") @context(name: "review") { id: ID! reply: Reply! rating: Int! @external }
type Reply @key(fields: "id") { id: ID! tone(rating: Int @fromContext(field: "$review { rating }")): String! }
"""
CUSTOMERS = """
type Query { customer: Customer }
type Customer @key(fields: "id") { id: ID! loyalty: Loyalty segment: String }
type Loyalty @key(fields: "id") { id: ID! tier: String }
"""
WALLETS = """
type Customer @key(fields: "id") @context(name: "holder") {
  id: ID!
  wallet: Wallet
  segment: String @external
  loyalty: Loyalty @external
}
type Loyalty @key(fields: "id") { id: ID! tier: String @external }
type Wallet @key(fields: "id") {
  id: ID!
  offers(
    limit: Int
    tier: String @fromContext(field: "$holder { loyalty { tier } }")
    segment: String @fromContext(field: "$holder { segment }")
  ): [Offer]
}
type Offer { id: ID }
"""


@pytest.fixture(scope="module")
def gateway() -> Gateway:
    subgraphs = (("catalog", CATALOG), ("reviews", REVIEWS), ("customers", CUSTOMERS), ("wallets", WALLETS))
    sources = [
        (name, f"http://127.0.0.1:{i}/graphql", HEADER + sdl) for i, (name, sdl) in enumerate(subgraphs, 1)
    ]
    return Gateway.from_supergraph(compose(sources, repo_root=REPO))


def _rewrites(gateway: Gateway, query: str) -> list[ContextRewrite]:
    plan = gateway.plan(GraphQLRequest(query, None, None)).plan
    return [rewrite for fetch in plan.fetches() for rewrite in fetch.context_rewrites]


def test_the_context_value_comes_with_its_ancestor_and_the_field_from_an_entity_fetch_after_it(
    gateway: Gateway,
) -> None:
    """The store's currency comes with the store, the shelf's total from a fetch after it that passes it."""
    expect(
        gateway,
        "{ store { shelf { label total } } }",
        """
        QueryPlan {
          Sequence {
            Fetch(service: "catalog") {
              {
                store {
                  __typename
                  currency
                  shelf {
                    label
                    __typename
                    id
                  }
                }
              }
            },
            Flatten(path: "store.shelf") {
              Fetch(service: "catalog") {
                {
                  ... on Shelf {
                    __typename
                    id
                  }
                } =>
                {
                  ... on Shelf {
                    total(currency: $contextualArgument_1_2)
                  }
                }
              },
            },
          },
        }
        """,
    )


def test_an_ancestor_in_a_list_gives_each_item_its_own_value(gateway: Gateway) -> None:
    """The fetch is at `stores.@.shelf`; each shelf's value is found from its own store."""
    expect(
        gateway,
        "{ stores { shelf { total } } }",
        """
        QueryPlan {
          Sequence {
            Fetch(service: "catalog") {
              {
                stores {
                  __typename
                  currency
                  shelf {
                    __typename
                    id
                  }
                }
              }
            },
            Flatten(path: "stores.@.shelf") {
              Fetch(service: "catalog") {
                {
                  ... on Shelf {
                    __typename
                    id
                  }
                } =>
                {
                  ... on Shelf {
                    total(currency: $contextualArgument_1_2)
                  }
                }
              },
            },
          },
        }
        """,
    )


def test_an_interface_sets_the_context_for_every_implementation(gateway: Gateway) -> None:
    expect(
        gateway,
        "{ node { badge { text } } }",
        """
        QueryPlan {
          Sequence {
            Fetch(service: "catalog") {
              {
                node {
                  __typename
                  region
                  badge {
                    __typename
                    id
                  }
                }
              }
            },
            Flatten(path: "node.badge") {
              Fetch(service: "catalog") {
                {
                  ... on Badge {
                    __typename
                    id
                  }
                } =>
                {
                  ... on Badge {
                    text(region: $contextualArgument_1_0)
                  }
                }
              },
            },
          },
        }
        """,
    )


def test_the_query_type_sets_a_context_from_a_root_field(gateway: Gateway) -> None:
    expect(
        gateway,
        "{ product { price } }",
        """
        QueryPlan {
          Sequence {
            Fetch(service: "catalog") {
              {
                __typename
                me {
                  locale
                }
                product {
                  __typename
                  id
                }
              }
            },
            Flatten(path: "product") {
              Fetch(service: "catalog") {
                {
                  ... on Product {
                    __typename
                    id
                  }
                } =>
                {
                  ... on Product {
                    price(locale: $contextualArgument_1_1)
                  }
                }
              },
            },
          },
        }
        """,
    )


def test_a_value_another_subgraph_resolves_is_fetched_from_it_first(gateway: Gateway) -> None:
    """Reviews knows the rating as @external: catalog gives it before the reply's tone is fetched."""
    expect(
        gateway,
        "{ review { reply { id tone } } }",
        """
        QueryPlan {
          Sequence {
            Fetch(service: "reviews") {
              {
                review {
                  __typename
                  id
                  reply {
                    id
                    __typename
                  }
                }
              }
            },
            Flatten(path: "review") {
              Fetch(service: "catalog") {
                {
                  ... on Review {
                    __typename
                    id
                  }
                } =>
                {
                  ... on Review {
                    rating
                  }
                }
              },
            },
            Flatten(path: "review.reply") {
              Fetch(service: "reviews") {
                {
                  ... on Reply {
                    __typename
                    id
                  }
                } =>
                {
                  ... on Reply {
                    tone(rating: $contextualArgument_3_0)
                  }
                }
              },
            },
          },
        }
        """,
    )


def test_values_from_the_fetch_before_need_no_fetch_of_their_own(gateway: Gateway) -> None:
    """The customer's segment and tier come in customers' root fetch: wallets' entity fetch passes them as
    they are, after the client's own argument."""
    expect(
        gateway,
        "{ customer { wallet { offers(limit: 3) { id } } } }",
        """
        QueryPlan {
          Sequence {
            Fetch(service: "customers") {
              {
                customer {
                  __typename
                  segment
                  loyalty {
                    tier
                  }
                  id
                }
              }
            },
            Flatten(path: "customer") {
              Fetch(service: "wallets") {
                {
                  ... on Customer {
                    __typename
                    id
                  }
                } =>
                {
                  ... on Customer {
                    wallet {
                      offers(limit: 3, tier: $contextualArgument_4_1, segment: $contextualArgument_4_0) {
                        id
                      }
                    }
                  }
                }
              },
            },
          },
        }
        """,
    )


def test_the_nearest_ancestor_setting_the_context_gives_the_value(gateway: Gateway) -> None:
    """Store and aisle both set the store context: the shelf in the aisle takes the aisle's currency."""
    expect(
        gateway,
        "{ store { aisle { shelf { total } } } }",
        """
        QueryPlan {
          Sequence {
            Fetch(service: "catalog") {
              {
                store {
                  aisle {
                    __typename
                    currency
                    shelf {
                      __typename
                      id
                    }
                  }
                }
              }
            },
            Flatten(path: "store.aisle.shelf") {
              Fetch(service: "catalog") {
                {
                  ... on Shelf {
                    __typename
                    id
                  }
                } =>
                {
                  ... on Shelf {
                    total(currency: $contextualArgument_1_2)
                  }
                }
              },
            },
          },
        }
        """,
    )


def test_each_fetch_knows_how_far_up_its_context_value_is(gateway: Gateway) -> None:
    """The executor finds a value per entity: response keys up from the entity, then down to the value."""
    (store,) = _rewrites(gateway, "{ stores { shelf { total } } }")
    assert (store.variable, store.type, store.levels, store.paths) == (
        "contextualArgument_1_2",
        "String",
        1,
        ((None, ("currency",)),),
    )
    (viewer,) = _rewrites(gateway, "{ product { price } }")
    assert (viewer.levels, viewer.paths) == (1, ((None, ("me", "locale")),))
    (node,) = _rewrites(gateway, "{ node { badge { text } } }")
    assert node.types == {"Node", "Shop", "Stall"}
    tier, segment = _rewrites(gateway, "{ customer { wallet { offers { id } } } }")
    assert [(r.variable, r.levels, r.paths[0][1]) for r in (tier, segment)] == [
        ("contextualArgument_4_1", 0, ("loyalty", "tier")),
        ("contextualArgument_4_0", 0, ("segment",)),
    ]


def test_the_entity_fetch_declares_the_context_variables(gateway: Gateway) -> None:
    plan = gateway.plan(GraphQLRequest("{ store { shelf { total } } }", None, None)).plan
    assert plan.fetches()[1].operation == (
        "query($representations:[_Any!]!,$contextualArgument_1_2:String)"
        "{_entities(representations:$representations){...on Shelf{total(currency: $contextualArgument_1_2)}}}"
    )
