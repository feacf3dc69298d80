"""The documents and calls of the checkout tests that go through the router (a real account's cart, shipping
zone and method, tax rate and voucher): the checkout's confirmation mail and the after-sale journey."""

from __future__ import annotations

from typing import Any

import httpx

PASSWORD = "correct horse battery"
MONEY = "{ amount currency }"
REGISTER = "mutation R($input: RegisterInput!) { register(input: $input) { email } }"
LOGIN = "mutation L($e: String!, $p: String!) { login(email: $e, password: $p) { accessToken } }"
CREATE_PRODUCT = "mutation C($input: CreateProductInput!) { createProduct(input: $input) { id } }"
SET_RATE = """
mutation T($c: String!, $k: String!, $r: Int!) { setTaxRate(country: $c, taxClass: $k, rate: $r) { country } }
"""
ZONE = "mutation Z($n: String!, $c: [String!]!) { createShippingZone(name: $n, countries: $c) { id } }"
METHOD = "mutation M($input: CreateShippingMethodInput!) { createShippingMethod(input: $input) { id } }"
PROMOTION = "mutation P($input: PromotionInput!) { createPromotion(input: $input) { id } }"
ADD = "mutation Add($p: ID!, $q: Int!) { cartAddLine(productId: $p, quantity: $q) { id } }"
SHIP_TO = "mutation S($a: AddressInput!) { cartSetShippingAddress(address: $a) { id } }"
CHOOSE = "mutation Ch($m: ID!) { cartSetShippingMethod(methodId: $m) { id } }"
VOUCHER = "mutation V($c: String!) { cartApplyVoucher(code: $c) { id } }"


async def answer(client: httpx.AsyncClient, query: str, variables: dict[str, Any], token: str) -> Any:
    """The router's JSON answer (HTTP 200, errors or not)."""
    response = await client.post(
        "/graphql",
        json={"query": query, "variables": variables},
        headers={"authorization": f"Bearer {token}"},
    )
    assert response.status_code == 200, response.text
    return response.json()


async def call(client: httpx.AsyncClient, query: str, variables: dict[str, Any], token: str) -> Any:
    """The `data` of an answer without errors."""
    body = await answer(client, query, variables, token)
    assert "errors" not in body, body
    return body["data"]
