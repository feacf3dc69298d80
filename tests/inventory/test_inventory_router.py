"""Stock per variant through the router over MyShop's supergraph: `ProductVariant.stock` joined to products'
variants, `Product.stock` beside them, `adjustVariantStock` answering products' fields of the variant; and
the dead letters of inventory's consumer, fed through the real products stream."""

from __future__ import annotations

import os
import uuid
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from catalog_events import product_updated
from eventually import eventually
from inventory_api import Inventory
from redis.asyncio import Redis

from shared.outbox import stream_name
from shared.testing import ServerThread

CREATE_PRODUCT = "mutation C($input: CreateProductInput!) { createProduct(input: $input) { id } }"
ADJUST = 'mutation A($id: ID!) { adjustStock(productId: $id, delta: 7, reason: "router test") { id } }'
ADJUST_VARIANT = """
mutation V($id: ID!) {
  adjustVariantStock(variantId: $id, delta: 3, reason: "router test") { id sku stock { onHand } inStock }
}"""
PRODUCT = """
query P($id: ID!) {
  product(id: $id) {
    id stock { onHand available } inStock
    variants { id sku stock { onHand available reserved } inStock }
  }
}"""
DEAD_LETTERS = "query { inventoryDeadLetters { type error attempts payload } }"


@pytest.fixture
async def client(myshop_router: ServerThread) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(base_url=myshop_router.url, timeout=30) as client:
        yield client


async def call(client: httpx.AsyncClient, query: str, variables: dict[str, Any], token: str | None) -> Any:
    headers = {"authorization": f"Bearer {token}"} if token is not None else {}
    response = await client.post("/graphql", json={"query": query, "variables": variables}, headers=headers)
    assert response.status_code == 200, response.text
    return response.json()


async def test_a_products_variants_show_their_stock_and_the_product_the_sum(
    client: httpx.AsyncClient, inventory: Inventory
) -> None:
    admin = inventory.admin_token
    sku = f"INV-{uuid.uuid4().hex[:8].upper()}"
    product_input = {"sku": sku, "name": "Router stock", "price": {"amount": 500, "currency": "EUR"}}
    created = await call(client, CREATE_PRODUCT, {"input": {**product_input, "category": "Tests"}}, admin)
    product_id = created["data"]["createProduct"]["id"]

    assert "errors" not in await call(client, ADJUST, {"id": product_id}, admin)
    adjusted = await call(client, ADJUST_VARIANT, {"id": product_id}, admin)
    found = await call(client, PRODUCT, {"id": product_id}, None)

    # A product created without variants has one, sharing its id and SKU: its stock is the product's.
    assert adjusted == {
        "data": {
            "adjustVariantStock": {"id": product_id, "sku": sku, "stock": {"onHand": 10}, "inStock": True}
        }
    }
    assert found == {
        "data": {
            "product": {
                "id": product_id,
                "stock": {"onHand": 10, "available": 10},
                "inStock": True,
                "variants": [
                    {
                        "id": product_id,
                        "sku": sku,
                        "stock": {"onHand": 10, "available": 10, "reserved": 0},
                        "inStock": True,
                    }
                ],
            }
        }
    }


async def test_a_catalog_event_inventory_cannot_read_waits_in_its_dead_letters_for_admins(
    client: httpx.AsyncClient, inventory: Inventory, redis: Redis, issuer: Any
) -> None:
    bad = product_updated(str(uuid.uuid4()))
    bad.payload["variantIds"] = "not a list"
    await redis.xadd(stream_name(os.environ["MYSHOP_REDIS_PREFIX"], "products"), bad.to_fields())

    letters = await eventually(
        lambda: call(client, DEAD_LETTERS, {}, inventory.admin_token),
        lambda body: body.get("data") and body["data"]["inventoryDeadLetters"],
        within=60,
        every=0.5,
        what="the event in inventory's dead letters",
    )
    customer = issuer.issue(str(uuid.uuid4()), ["CUSTOMER"]).token
    refused = await call(client, DEAD_LETTERS, {}, customer)

    [letter] = letters["data"]["inventoryDeadLetters"]
    assert (letter["type"], letter["attempts"]) == ("ProductUpdated", 5)
    assert "variantIds" in letter["error"]
    assert refused["errors"][0]["extensions"]["code"] == "FORBIDDEN"
    product_id = uuid.UUID(bad.payload["productId"])
    assert await inventory.scalar("SELECT count(*) FROM stock_items WHERE product_id = :p", p=product_id) == 0
