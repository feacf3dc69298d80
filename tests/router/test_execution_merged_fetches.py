"""Executing a merged entity fetch (one fetch serving several paths) against real Strawberry subgraphs on
loopback: one request, each entity sent once, answers and errors back at every path."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import orjson
import pytest
import strawberry
from plan_helpers import REPO
from strawberry.asgi import GraphQL

from router.pipeline.gateway import Gateway
from shared.composition import compose
from shared.testing import ServerThread


@strawberry.federation.type(keys=["upc"])
class Product:
    upc: str
    name: str


@strawberry.type
class ProductsQuery:
    @strawberry.field
    def top_products(self) -> list[Product]:
        return [Product(upc=f"p{i}", name=f"product {i}") for i in (1, 2, 3)]

    @strawberry.field
    def featured(self) -> Product:
        return Product(upc="p3", name="product 3")


@strawberry.federation.type(keys=["upc"], name="Product")
class StockedProduct:
    upc: str

    @strawberry.field
    def in_stock(self) -> bool:
        return self.upc != "p2"

    @strawberry.field
    def weight(self) -> int | None:
        if self.upc == "p3":
            raise ValueError("weight unknown")
        return len(self.upc)

    @classmethod
    def resolve_reference(cls, upc: str) -> StockedProduct:
        return StockedProduct(upc=upc)


@strawberry.type
class InventoryQuery:
    @strawberry.field
    def warehouses(self) -> int:
        return 1


products_schema = strawberry.federation.Schema(query=ProductsQuery, types=[Product])
inventory_schema = strawberry.federation.Schema(query=InventoryQuery, types=[StockedProduct])


class Recorded:
    """Strawberry's ASGI app, answering uvicorn's lifespan messages itself and keeping each request body."""

    def __init__(self, schema: strawberry.federation.Schema) -> None:
        self.app = GraphQL(schema)
        self.bodies: list[dict[str, Any]] = []

    async def __call__(self, scope: dict, receive: Any, send: Any) -> None:
        if scope["type"] == "lifespan":
            while True:
                kind = (await receive())["type"].replace("lifespan.", "")
                await send({"type": f"lifespan.{kind}.complete"})
                if kind == "shutdown":
                    return
        if scope["type"] != "http":
            return
        chunks: list[bytes] = []

        async def replay() -> dict[str, Any]:
            message = await receive()
            chunks.append(message.get("body", b""))
            if not message.get("more_body"):
                self.bodies.append(orjson.loads(b"".join(chunks)))
            return message

        await self.app(scope, replay, send)


@pytest.fixture(scope="module")
def inventory() -> Recorded:
    return Recorded(inventory_schema)


@pytest.fixture(scope="module")
def supergraph(inventory: Recorded) -> Iterator[str]:
    servers = {
        "products": ServerThread(Recorded(products_schema)).start(),
        "inventory": ServerThread(inventory).start(),
    }
    yield compose(
        [
            ("products", servers["products"].url + "/graphql", products_schema.as_str()),
            ("inventory", servers["inventory"].url + "/graphql", inventory_schema.as_str()),
        ],
        repo_root=REPO,
    )
    for server in servers.values():
        server.stop()


async def test_entities_of_two_paths_are_fetched_in_one_request_each_sent_once(
    supergraph: str, inventory: Recorded
) -> None:
    gateway = Gateway.from_supergraph(supergraph)
    query = "{ topProducts { upc inStock } featured { inStock upc } }"
    assert 'Flatten(paths: ["topProducts.@", "featured"])' in gateway.plan_text(query)
    inventory.bodies.clear()
    try:
        result = await gateway.execute(query)
    finally:
        await gateway.close()
    assert result == {
        "data": {
            "topProducts": [
                {"upc": "p1", "inStock": True},
                {"upc": "p2", "inStock": False},
                {"upc": "p3", "inStock": True},
            ],
            "featured": {"inStock": True, "upc": "p3"},
        }
    }
    assert len(inventory.bodies) == 1
    representations = inventory.bodies[0]["variables"]["representations"]
    assert [r["upc"] for r in representations] == ["p1", "p2", "p3"]


async def test_an_error_of_an_entity_at_two_paths_is_reported_at_both(supergraph: str) -> None:
    gateway = Gateway.from_supergraph(supergraph)
    query = "{ topProducts { upc weight } featured { weight } }"
    assert 'Flatten(paths: ["topProducts.@", "featured"])' in gateway.plan_text(query)
    try:
        result = await gateway.execute(query)
    finally:
        await gateway.close()
    assert result["data"] == {
        "topProducts": [
            {"upc": "p1", "weight": 2},
            {"upc": "p2", "weight": 2},
            {"upc": "p3", "weight": None},
        ],
        "featured": {"weight": None},
    }
    assert sorted(error["path"] for error in result["errors"]) == [
        ["featured", "weight"],
        ["topProducts", 2, "weight"],
    ]
