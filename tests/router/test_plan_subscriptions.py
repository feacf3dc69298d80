"""Subscription plans: the root field's fetch on its subgraph is the event stream (Primary), the entity
fetches that complete each event from other subgraphs are the Rest (subgraph SDLs inline, printed plans)."""

from __future__ import annotations

import pytest
from plan_helpers import expect, gateway_of

from router.pipeline.errors import RequestError
from router.pipeline.gateway import Gateway
from router.pipeline.request import Door, GraphQLRequest

ORDERS = """
type Query { order(id: ID!): Order }
type Subscription { orderStatusChanged(orderId: ID!): Order! ticks: Int! }
type Order @key(fields: "id") { id: ID! status: String! user: User! items: [Item!]! }
type Item { quantity: Int! product: Product! }
type User @key(fields: "id", resolvable: false) { id: ID! }
type Product @key(fields: "id", resolvable: false) { id: ID! }
"""

USERS = """
type Query { me: User }
type User @key(fields: "id") { id: ID! email: String! }
"""

PRODUCTS = """
type Query { product(id: ID!): Product }
type Product @key(fields: "id") { id: ID! name: String! }
"""

PAYMENTS = """
type Order @key(fields: "id") { id: ID! payment: Payment }
type Payment { status: String! }
"""


@pytest.fixture(scope="module")
def gateway() -> Gateway:
    return gateway_of(("orders", ORDERS), ("users", USERS), ("products", PRODUCTS), ("payments", PAYMENTS))


def test_subscription_on_its_own_subgraph_has_only_a_primary(gateway: Gateway) -> None:
    expect(
        gateway,
        'subscription { orderStatusChanged(orderId: "1") { status } }',
        """
        QueryPlan {
          Subscription {
            Primary: {
              Fetch(service: "orders") {
                {
                  orderStatusChanged(orderId: "1") {
                    status
                  }
                }
              }
            }
          },
        }
        """,
    )


def test_subscription_events_are_completed_by_the_rest_from_other_subgraphs_in_parallel(
    gateway: Gateway,
) -> None:
    expect(
        gateway,
        "subscription($id: ID!) { orderStatusChanged(orderId: $id) {"
        " status user { email } payment { status } items { product { name } } } }",
        """
        QueryPlan {
          Subscription {
            Primary: {
              Fetch(service: "orders") {
                {
                  orderStatusChanged(orderId: $id) {
                    status
                    user {
                      __typename
                      id
                    }
                    __typename
                    id
                    items {
                      product {
                        __typename
                        id
                      }
                    }
                  }
                }
              }
            },
            Rest: {
              Parallel {
                Flatten(path: "orderStatusChanged.user") {
                  Fetch(service: "users") {
                    {
                      ... on User {
                        __typename
                        id
                      }
                    } =>
                    {
                      ... on User {
                        email
                      }
                    }
                  },
                },
                Flatten(path: "orderStatusChanged") {
                  Fetch(service: "payments") {
                    {
                      ... on Order {
                        __typename
                        id
                      }
                    } =>
                    {
                      ... on Order {
                        payment {
                          status
                        }
                      }
                    }
                  },
                },
                Flatten(path: "orderStatusChanged.items.@.product") {
                  Fetch(service: "products") {
                    {
                      ... on Product {
                        __typename
                        id
                      }
                    } =>
                    {
                      ... on Product {
                        name
                      }
                    }
                  },
                },
              }
            }
          },
        }
        """,
    )


def test_the_primary_fetch_is_a_subscription_operation_with_its_variables(gateway: Gateway) -> None:
    query = "subscription($id: ID!) { orderStatusChanged(orderId: $id) { status } }"
    planned = gateway.plan(GraphQLRequest(query, {"id": "1"}, door=Door.WEBSOCKET))

    primary = planned.plan.fetches()[0]
    assert primary.operation == "subscription($id:ID!){orderStatusChanged(orderId: $id){status}}"
    assert primary.variable_usages == ("id",)


def test_subscription_with_two_root_fields_is_refused_with_a_code(gateway: Gateway) -> None:
    with pytest.raises(RequestError) as refused:
        gateway.plan_text('subscription { orderStatusChanged(orderId: "1") { status } ticks }')

    assert [e["extensions"]["code"] for e in refused.value.errors] == ["GRAPHQL_VALIDATION_FAILED"]


def test_subscription_with_a_second_root_field_behind_a_fragment_is_refused(gateway: Gateway) -> None:
    with pytest.raises(RequestError) as refused:
        gateway.plan_text("subscription { ticks ...More } fragment More on Subscription { ticks2: ticks }")

    assert [e["extensions"]["code"] for e in refused.value.errors] == ["GRAPHQL_VALIDATION_FAILED"]
