"""Execution over canned subgraph answers: what the router sends (representations) and how it shapes
what comes back (aliases renamed back, values clients may not see answered as null)."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from pathlib import Path
from typing import Any

from router.pipeline.gateway import Gateway
from shared.composition import compose

REPO = Path(__file__).resolve().parents[2]
HEADER = (
    'extend schema @link(url: "https://specs.apollo.dev/federation/v2.3", '
    'import: ["@key", "@shareable", "@external", "@requires", "@inaccessible", "@interfaceObject"])\n'
)

Answer = Callable[[dict[str, Any]], dict[str, Any]]


class CannedSubgraphs:
    """Stands in for the HTTP clients: answers each subgraph's request with a function of its body."""

    def __init__(self, answers: dict[str, Answer]) -> None:
        self.answers = answers
        self.requests: list[tuple[str, dict[str, Any]]] = []

    async def post(self, graph: str, body: dict[str, Any], headers: Any = None, **_: Any) -> dict[str, Any]:
        self.requests.append((graph, body))
        return self.answers[graph](body)


def gateway_of(answers: dict[str, Answer], *subgraphs: tuple[str, str]) -> tuple[Gateway, CannedSubgraphs]:
    sdl = compose(
        [
            (name, f"http://127.0.0.1:{i + 1}/graphql", HEADER + sdl)
            for i, (name, sdl) in enumerate(subgraphs)
        ],
        repo_root=REPO,
    )
    gateway = Gateway.from_supergraph(sdl)
    canned = CannedSubgraphs(answers)
    gateway.executor.client = canned
    return gateway, canned


async def test_an_object_of_an_inaccessible_type_answers_as_null() -> None:
    warehouse = """
    type Query { stock: [StockItem] }
    union StockItem = Pallet | Crate
    type Pallet { code: String }
    type Crate @inaccessible { code: String }
    """
    answer = {
        "data": {"stock": [{"__typename": "Pallet", "code": "P1"}, {"__typename": "Crate", "code": "C1"}]}
    }
    gateway, _ = gateway_of({"WAREHOUSE": lambda body: answer}, ("warehouse", warehouse))
    result = await gateway.execute("{ stock { ... on Pallet { code } } }")
    assert result == {"data": {"stock": [{"code": "P1"}, None]}}


async def test_an_enum_value_clients_cannot_see_answers_as_null_and_bubbles_through_non_null() -> None:
    accounts = """
    type Query { users: [User!] }
    type User { id: ID! tier: Tier tiers: [Tier!]! }
    enum Tier { GOLD SILVER STAFF @inaccessible }
    """
    answer = {
        "data": {
            "users": [
                {"id": "u1", "tier": "GOLD", "tiers": ["GOLD"]},
                {"id": "u2", "tier": "STAFF", "tiers": ["SILVER"]},
            ]
        }
    }
    gateway, _ = gateway_of({"ACCOUNTS": lambda body: answer}, ("accounts", accounts))
    result = await gateway.execute("{ users { id tier } }")
    assert result == {"data": {"users": [{"id": "u1", "tier": "GOLD"}, {"id": "u2", "tier": None}]}}

    answer["data"]["users"][1]["tiers"] = ["STAFF"]
    result = await gateway.execute("{ users { id tiers } }")
    assert result == {
        "data": {"users": None},
        # The null that bubbled is said, where it was (its list item), not left for the client to guess.
        "errors": [
            {
                "message": "Cannot return null for non-nullable field User.tiers.",
                "path": ["users", 1, "tiers", 0],
                "extensions": {"code": "RESPONSE_VALIDATION_FAILED"},
            }
        ],
    }


async def test_fields_aliased_apart_in_the_subgraph_answer_under_the_clients_key() -> None:
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
    answer = {
        "data": {
            "stock": [
                {"__typename": "Pallet", "code": "P1"},
                {"__typename": "Crate", "code__alias_0": "C1"},
            ]
        }
    }
    gateway, canned = gateway_of(
        {"WAREHOUSE": lambda body: answer}, ("ledger", ledger), ("warehouse", warehouse)
    )
    result = await gateway.execute("{ stock { ... on Pallet { code } ... on Crate { code } } }")
    assert result == {"data": {"stock": [{"code": "P1"}, {"code": "C1"}]}}
    assert "code__alias_0:code" in canned.requests[0][1]["query"]


async def test_a_required_field_with_arguments_reaches_the_subgraph_under_its_own_name() -> None:
    catalog = """
    type Query { products: [Product] }
    type Product @key(fields: "sku") { sku: ID! price(currency: String!): Int }
    """
    shipping = """
    type Product @key(fields: "sku") {
      sku: ID!
      price(currency: String!): Int @external
      shippingCost: Int @requires(fields: "price(currency: \\"EUR\\")")
    }
    """
    catalog_answer = {
        "data": {"products": [{"__typename": "Product", "sku": "s1", "price": 12, "price__5608dd58": 10}]}
    }

    def shipping_answer(body: dict[str, Any]) -> dict[str, Any]:
        return {
            "data": {
                "_entities": [{"shippingCost": r["price"] * 2} for r in body["variables"]["representations"]]
            }
        }

    gateway, canned = gateway_of(
        {"CATALOG": lambda body: catalog_answer, "SHIPPING": shipping_answer},
        ("catalog", catalog),
        ("shipping", shipping),
    )
    result = await gateway.execute('{ products { price(currency: "GBP") shippingCost } }')
    assert result == {"data": {"products": [{"price": 12, "shippingCost": 20}]}}
    representations = canned.requests[1][1]["variables"]["representations"]
    assert representations == [{"__typename": "Product", "sku": "s1", "price": 10}]


async def test_a_required_fragment_on_an_interface_projects_the_fields_of_its_implementations() -> None:
    content = """
    type Query { post: Post }
    type Post @key(fields: "id") { id: ID! body: Body }
    interface Body { text: String }
    type Plain implements Body { text: String }
    type Rich implements Body { text: String html: String }
    """
    search = """
    type Post @key(fields: "id") {
      id: ID!
      body: Body @external
      snippet: String @requires(fields: "body { ... on Body { text } }")
    }
    interface Body { text: String }
    type Plain implements Body { text: String @external }
    type Rich implements Body { text: String @external }
    """
    content_answer = {
        "data": {"post": {"__typename": "Post", "id": "p1", "body": {"__typename": "Rich", "text": "hi"}}}
    }
    gateway, canned = gateway_of(
        {
            "CONTENT": lambda body: content_answer,
            "SEARCH": lambda body: {"data": {"_entities": [{"snippet": "hi..."}]}},
        },
        ("content", content),
        ("search", search),
    )
    result = await gateway.execute("{ post { snippet } }")
    assert result == {"data": {"post": {"snippet": "hi..."}}}
    representations = canned.requests[1][1]["variables"]["representations"]
    assert representations == [
        {"__typename": "Post", "id": "p1", "body": {"__typename": "Rich", "text": "hi"}}
    ]


async def test_only_objects_of_the_planned_type_reach_an_interface_object_subgraph_under_its_name() -> None:
    directory = """
    type Query { members: [Member!]! }
    interface Member @key(fields: "id") { id: ID! }
    type Customer implements Member @key(fields: "id") { id: ID! }
    type Supplier implements Member @key(fields: "id") { id: ID! }
    """
    profiles = """
    type Member @key(fields: "id") @interfaceObject { id: ID! avatarUrl: String }
    """
    directory_answer = {
        "data": {"members": [{"__typename": "Customer", "id": "c1"}, {"__typename": "Supplier", "id": "s1"}]}
    }
    gateway, canned = gateway_of(
        {
            "DIRECTORY": lambda body: directory_answer,
            "PROFILES": lambda body: {
                "data": {"_entities": [{"__typename": "Member", "avatarUrl": "c1.png"}]}
            },
        },
        ("directory", directory),
        ("profiles", profiles),
    )
    result = await gateway.execute("{ members { ... on Customer { avatarUrl } } }")
    assert result == {"data": {"members": [{"avatarUrl": "c1.png"}, {}]}}
    assert canned.requests[1][1]["variables"]["representations"] == [{"__typename": "Member", "id": "c1"}]


async def test_an_aliased_answer_shared_by_concurrent_requests_is_renamed_right_for_each() -> None:
    # Deduplicated fetches hand one answer object to every request waiting on it; each renames it in place.
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
    shared = {
        "data": {
            "stock": [
                {"__typename": "Pallet", "code": "P1"},
                {"__typename": "Crate", "code__alias_0": "C1"},
            ]
        }
    }
    gateway, _ = gateway_of({"WAREHOUSE": lambda body: shared}, ("ledger", ledger), ("warehouse", warehouse))
    query = "{ stock { ... on Pallet { code } ... on Crate { code } } }"

    results = await asyncio.gather(*(gateway.execute(query) for _ in range(3)))
    again = await gateway.execute(query)

    expected = {"data": {"stock": [{"code": "P1"}, {"code": "C1"}]}}
    assert results == [expected] * 3
    assert again == expected
