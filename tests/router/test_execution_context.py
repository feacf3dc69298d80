"""Executing fields with `@fromContext` arguments (Federation 2.8) against real GraphQL subgraphs on loopback
that answer from the argument they get: each entity gets the value of its own nearest context ancestor,
entities with the same value share one `_entities` call, different values go as aliased calls in one request
(router/execution/context_fetch.py)."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import orjson
import pytest
from graphql import GraphQLError, build_schema, graphql
from plan_helpers import REPO
from standin import read_request, respond

from router.pipeline.errors import RequestError
from router.pipeline.gateway import Gateway
from shared.composition import compose
from shared.testing import ServerThread

FEDERATION = (
    'extend schema @link(url: "https://specs.apollo.dev/federation/v2.8", '
    'import: ["@key", "@context", "@fromContext", "@external"])\n'
)
ACCOUNTS = """
type Query { users: [User!]! user(id: ID!): User }
type User @key(fields: "id") { id: ID! locale: String cart: Cart }
type Cart @key(fields: "id") { id: ID! }
"""
PRICING = """
type User @key(fields: "id") @context(name: "buyer") { id: ID! locale: String @external }
type Cart @key(fields: "id") {
  id: ID!
  total(locale: String @fromContext(field: "$buyer { locale }")): String
}
"""
MARKET = """
type Query { sellers: [Seller!]! }
union Seller = Shop | Person
type Shop @key(fields: "id") @context(name: "seller") { id: ID! region: String offer: Offer }
type Person @key(fields: "id") @context(name: "seller") { id: ID! country: String offer: Offer }
type Offer @key(fields: "id") {
  id: ID!
  price(zone: String @fromContext(field: "$seller ... on Shop { region } ... on Person { country }")): String
}
"""
# The subgraphs as they execute: plain GraphQL with `_entities`, the federation directives left out.
ENTITIES = "scalar _Any\n"
ACCOUNTS_EXECUTABLE = ENTITIES + (
    "type Query { users: [User!]! user(id: ID!): User _entities(representations: [_Any!]!): [_Entity]! }\n"
    "type User { id: ID! locale: String cart: Cart }\ntype Cart { id: ID! }\nunion _Entity = User | Cart\n"
)
PRICING_EXECUTABLE = ENTITIES + (
    "type Query { _entities(representations: [_Any!]!): [_Entity]! }\n"
    "type User { id: ID! }\ntype Cart { id: ID! total(locale: String): String }\n"
    "union _Entity = User | Cart\n"
)
MARKET_EXECUTABLE = ENTITIES + (
    "type Query { sellers: [Seller!]! _entities(representations: [_Any!]!): [_Entity]! }\n"
    "union Seller = Shop | Person\ntype Shop { id: ID! region: String offer: Offer }\n"
    "type Person { id: ID! country: String offer: Offer }\n"
    "type Offer { id: ID! price(zone: String): String }\n"
    "union _Entity = Shop | Person | Offer\n"
)
USERS = [("u1", "fr", "c1"), ("u2", "de", "c2"), ("u3", None, "c3"), ("u4", "fr", "c4"), ("u5", "de", "c1")]


def _user(user_id: str, locale: str | None, cart: str) -> dict[str, Any]:
    return {"__typename": "User", "id": user_id, "locale": locale, "cart": {"__typename": "Cart", "id": cart}}


def _cart(representation: dict[str, Any]) -> dict[str, Any]:
    cart = representation["id"]

    def total(locale: str | None = None) -> str:
        if cart == "c2":
            raise GraphQLError("no price for c2")
        return f"{cart} in {locale or 'no locale'}"

    return {"__typename": "Cart", "id": cart, "total": total}


def _offer(representation: dict[str, Any]) -> dict[str, Any]:
    offer = representation["id"]
    return {"__typename": "Offer", "id": offer, "price": lambda zone=None: f"{offer} priced for {zone}"}


class Subgraph:
    """A GraphQL subgraph executed by graphql-core: `root` answers the root fields (a callable gets the
    field's arguments), `entity` answers each representation of `_entities`; every request body is kept."""

    def __init__(self, sdl: str, root: dict[str, Any], entity: Callable[[dict[str, Any]], Any]) -> None:
        self.schema = build_schema(sdl)
        self.root = {**root, "_entities": lambda representations: [entity(r) for r in representations]}
        self.bodies: list[dict[str, Any]] = []

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        raw = await read_request(scope, receive, send)
        if raw is None:
            return
        body = orjson.loads(raw)
        self.bodies.append(body)
        result = await graphql(
            self.schema,
            body["query"],
            root_value=self.root,
            variable_values=body.get("variables"),
            field_resolver=_resolve,
            type_resolver=lambda value, *_: value["__typename"],
        )
        answer: dict[str, Any] = {"data": result.data}
        if result.errors:
            answer["errors"] = [error.formatted for error in result.errors]
        await respond(send, orjson.dumps(answer))


def _resolve(parent: Any, info: Any, **arguments: Any) -> Any:
    value = parent.get(info.field_name) if isinstance(parent, dict) else None
    return value(**arguments) if callable(value) else value


@dataclass
class Stack:
    subgraphs: dict[str, Subgraph]
    supergraph: str


@pytest.fixture(scope="module")
def stack() -> Iterator[Stack]:
    users = [_user(*user) for user in USERS]
    sellers = [
        {"__typename": "Shop", "id": "s1", "region": "EU", "offer": {"__typename": "Offer", "id": "o1"}},
        {"__typename": "Person", "id": "p1", "country": "US", "offer": {"__typename": "Offer", "id": "o2"}},
        {"__typename": "Shop", "id": "s2", "region": None, "offer": {"__typename": "Offer", "id": "o3"}},
    ]
    subgraphs = {
        "accounts": Subgraph(
            ACCOUNTS_EXECUTABLE,
            {"users": users, "user": lambda id: next(u for u in users if u["id"] == id)},
            lambda r: r,
        ),
        "pricing": Subgraph(PRICING_EXECUTABLE, {}, _cart),
        "market": Subgraph(MARKET_EXECUTABLE, {"sellers": sellers}, _offer),
    }
    servers = {name: ServerThread(app).start() for name, app in subgraphs.items()}
    sdl = {"accounts": ACCOUNTS, "pricing": PRICING, "market": MARKET}
    supergraph = compose(
        [(name, f"{servers[name].url}/graphql", FEDERATION + sdl[name]) for name in subgraphs], repo_root=REPO
    )
    yield Stack(subgraphs, supergraph)
    for server in servers.values():
        server.stop()


async def _run(stack: Stack, query: str) -> dict[str, Any]:
    for subgraph in stack.subgraphs.values():
        subgraph.bodies.clear()
    gateway = Gateway.from_supergraph(stack.supergraph)
    try:
        return await gateway.execute(query)
    finally:
        await gateway.close()


async def test_each_entity_gets_the_value_of_its_own_ancestor_one_aliased_call_per_value(
    stack: Stack,
) -> None:
    """Given five users (two in fr, two in de, one without a locale), u5 sharing u1's cart
    When their carts' totals are asked for
    Then pricing gets one request with one `_entities` call per locale (null included), and each cart is
    priced in its own user's locale (c1 once in fr and once in de); c2's error lands at u2's path"""
    result = await _run(stack, "{ users { id cart { total } } }")

    assert result["data"] == {
        "users": [
            {"id": "u1", "cart": {"total": "c1 in fr"}},
            {"id": "u2", "cart": {"total": None}},
            {"id": "u3", "cart": {"total": "c3 in no locale"}},
            {"id": "u4", "cart": {"total": "c4 in fr"}},
            {"id": "u5", "cart": {"total": "c1 in de"}},
        ]
    }
    assert [error["path"] for error in result["errors"]] == [["users", 1, "cart", "total"]]
    (body,) = stack.subgraphs["pricing"].bodies
    variables = body["variables"]
    assert {k: v for k, v in variables.items() if k.startswith("contextualArgument")} == {
        "contextualArgument_3_0_0": "fr",
        "contextualArgument_3_0_1": "de",
        "contextualArgument_3_0_2": None,
    }
    assert [[r["id"] for r in variables[f"representations_{i}"]] for i in range(3)] == [
        ["c1", "c4"],
        ["c2", "c1"],
        ["c3"],
    ]


async def test_entities_sharing_one_value_go_in_one_plain_entities_call(stack: Stack) -> None:
    result = await _run(stack, '{ user(id: "u4") { cart { id total } } }')

    assert result == {"data": {"user": {"cart": {"id": "c4", "total": "c4 in fr"}}}}
    (body,) = stack.subgraphs["pricing"].bodies
    assert body["variables"] == {
        "representations": [{"__typename": "Cart", "id": "c4"}],
        "contextualArgument_3_0": "fr",
    }
    assert "_entities(representations:$representations)" in body["query"]


async def test_union_members_set_the_context_each_through_its_own_type_condition(stack: Stack) -> None:
    """Given sellers of a union whose members set the context: a shop (its region), a person (its country),
    a shop without a region
    When their offers' prices are asked for
    Then each offer is priced for its own seller's zone, the regionless shop's with a null argument"""
    query = "{ sellers { ... on Shop { id offer { price } } ... on Person { id offer { price } } } }"

    result = await _run(stack, query)

    assert result == {
        "data": {
            "sellers": [
                {"id": "s1", "offer": {"price": "o1 priced for EU"}},
                {"id": "p1", "offer": {"price": "o2 priced for US"}},
                {"id": "s2", "offer": {"price": "o3 priced for None"}},
            ]
        }
    }
    assert len(stack.subgraphs["market"].bodies) == 2  # the sellers, then one request for every offer


async def test_a_client_cannot_give_a_context_argument(stack: Stack) -> None:
    """The argument is not in the API schema: the router fills it, never the client."""
    with pytest.raises(RequestError) as raised:
        await _run(stack, '{ users { cart { total(locale: "en") } } }')

    assert [e["extensions"]["code"] for e in raised.value.errors] == ["GRAPHQL_VALIDATION_FAILED"]
    assert stack.subgraphs["pricing"].bodies == []


async def test_the_clients_variables_reach_every_aliased_call(stack: Stack) -> None:
    gateway = Gateway.from_supergraph(stack.supergraph)
    query = "query($show: Boolean!) { users { id cart { total @include(if: $show) } } }"
    stack.subgraphs["pricing"].bodies.clear()
    try:
        shown = await gateway.execute(query, {"show": True})
        hidden = await gateway.execute(query, {"show": False})
    finally:
        await gateway.close()

    assert [user["cart"] for user in shown["data"]["users"]] == [
        {"total": "c1 in fr"},
        {"total": None},
        {"total": "c3 in no locale"},
        {"total": "c4 in fr"},
        {"total": "c1 in de"},
    ]
    assert [user["cart"] for user in hidden["data"]["users"]] == [{}] * 5
    (body,) = stack.subgraphs["pricing"].bodies  # nothing asked of pricing when the total is skipped
    assert body["variables"]["show"] is True
    assert body["query"].count("@include(if: $show)") == 3
