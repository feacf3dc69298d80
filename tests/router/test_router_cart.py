"""The cart through the router over MyShop's supergraph: a guest fills a cart, signs in and merges it, and
the lines' products come from products and inventory (the cart's entity references planned and joined)."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest

from shared.testing import ServerThread

REGISTER = "mutation Register($input: RegisterInput!) { register(input: $input) { email } }"
LOGIN = """
mutation Login($email: String!, $password: String!) {
  login(email: $email, password: $password) { accessToken }
}
"""
CREATE_PRODUCT = "mutation C($input: CreateProductInput!) { createProduct(input: $input) { id } }"
ADJUST = 'mutation A($id: ID!) { adjustStock(productId: $id, delta: 7, reason: "cart test") { id } }'
CREATE_CART = "mutation { createCart { token cart { id } } }"
ADD = """
mutation Add($product: ID!, $token: String) {
  cartAddLine(productId: $product, quantity: 2, cartToken: $token) { id }
}"""
MERGE = "mutation Merge($token: String!) { mergeGuestCart(cartToken: $token) { id } }"
CART = """
query Cart($token: String) {
  cart(cartToken: $token) {
    id subtotal { amount currency } weightGrams
    lines { quantity available unitPrice { amount } product { id name inStock stock { available } } }
  }
}"""


@pytest.fixture
async def client(myshop_router: ServerThread) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(base_url=myshop_router.url, timeout=30) as client:
        yield client


async def call(
    client: httpx.AsyncClient, query: str, variables: dict[str, Any], token: str | None = None
) -> Any:
    headers = {"authorization": f"Bearer {token}"} if token is not None else {}
    response = await client.post("/graphql", json={"query": query, "variables": variables}, headers=headers)
    assert response.status_code == 200, response.text
    body = response.json()
    assert "errors" not in body, body
    return body["data"]


async def test_a_guest_cart_shows_products_and_stock_and_merges_at_sign_in(
    client: httpx.AsyncClient, issuer: Any
) -> None:
    admin = issuer.issue(str(uuid.uuid4()), ["ADMIN"]).token
    sku = f"CART-{uuid.uuid4().hex[:8].upper()}"
    product_input = {
        "sku": sku,
        "name": f"Router cart item {sku}",
        "description": "",
        "price": {"amount": 1999, "currency": "EUR"},
        "category": "Tests",
    }
    product = (await call(client, CREATE_PRODUCT, {"input": product_input}, admin))["createProduct"]["id"]
    await call(client, ADJUST, {"id": product}, admin)
    guest = (await call(client, CREATE_CART, {}))["createCart"]
    await call(client, ADD, {"product": product, "token": guest["token"]})

    as_guest = (await call(client, CART, {"token": guest["token"]}))["cart"]
    email = f"router-cart-{uuid.uuid4().hex[:10]}@example.com"
    await call(
        client, REGISTER, {"input": {"email": email, "password": "correct horse battery", "name": "C"}}
    )
    token = (await call(client, LOGIN, {"email": email, "password": "correct horse battery"}))["login"][
        "accessToken"
    ]
    merged_id = (await call(client, MERGE, {"token": guest["token"]}, token))["mergeGuestCart"]["id"]
    mine = (await call(client, CART, {}, token))["cart"]

    assert as_guest["id"] == guest["cart"]["id"]
    assert as_guest["lines"] == [
        {
            "quantity": 2,
            "available": True,
            "unitPrice": {"amount": 1999},
            "product": {
                "id": product,
                "name": product_input["name"],
                "inStock": True,
                "stock": {"available": 7},
            },
        }
    ]
    assert as_guest["subtotal"] == {"amount": 3998, "currency": "EUR"}
    assert mine["id"] == merged_id != guest["cart"]["id"]
    assert mine["lines"] == as_guest["lines"]
