"""The order flow through the router over the committed supergraph: one query across users, orders, products,
inventory and payments, and the saga's internal operations invisible at the edge."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from orders_shop import Shop

from router.config import RouterConfig
from router.server import build_gateway, create_app
from shared.testing import ServerThread

SUPERGRAPH = (Path(__file__).resolve().parents[2] / "schema" / "supergraph.graphql").read_text()
REGISTER = """
mutation($input: RegisterInput!) { register(input: $input) { email } }"""
LOGIN = """
mutation($email: String!, $password: String!) { login(email: $email, password: $password) { accessToken } }"""
PLACE = """
mutation($input: PlaceOrderInput!) {
  placeOrder(input: $input) { id status total { amount currency } }
}"""
MY_ORDERS = """
{
  me {
    email
    orders(first: 5) {
      nodes {
        status
        user { email }
        items { quantity product { name inStock stock { available } } }
        payment { status amount { amount currency } method }
      }
    }
  }
}"""


@pytest.fixture(scope="module")
def router(stack: Any) -> Iterator[ServerThread]:
    config = RouterConfig(
        graphiql=False, subgraph_urls={n: f"{s.url}/graphql" for n, s in stack.servers.items()}
    )
    server = ServerThread(create_app(build_gateway(SUPERGRAPH, config), config)).start()
    yield server
    server.stop()


async def ask(
    router: ServerThread, query: str, variables: dict[str, Any] | None = None, token: str = ""
) -> Any:
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    async with httpx.AsyncClient(timeout=30) as client:
        response = await client.post(
            f"{router.url}/graphql", json={"query": query, "variables": variables or {}}, headers=headers
        )
    return response.json()


async def test_a_customer_sees_their_order_across_every_subgraph(shop: Shop, router: ServerThread) -> None:
    product = await shop.product(price=990, stock=3)
    email = f"buyer-{uuid.uuid4().hex[:8]}@example.com"
    await ask(
        router, REGISTER, {"input": {"email": email, "password": "correct horse battery", "name": "Buyer"}}
    )
    signed_in = await ask(router, LOGIN, {"email": email, "password": "correct horse battery"})
    token = signed_in["data"]["login"]["accessToken"]

    order_input = {
        "items": [{"productId": product, "quantity": 2}],
        "paymentMethod": "tok_approve",
        "idempotencyKey": "router-1",
    }
    placed = await ask(router, PLACE, {"input": order_input}, token)
    mine = await ask(router, MY_ORDERS, token=token)

    assert placed.get("errors") is None, placed
    assert placed["data"]["placeOrder"]["status"] == "CONFIRMED"
    assert mine.get("errors") is None, mine
    [order] = mine["data"]["me"]["orders"]["nodes"]
    assert order["status"] == "CONFIRMED"
    assert order["user"] == {"email": email}
    assert order["items"][0]["quantity"] == 2
    assert order["items"][0]["product"]["name"].startswith("Order test item")
    assert order["items"][0]["product"]["stock"] == {"available": 1}
    assert order["payment"] == {
        "status": "CAPTURED",
        "amount": {"amount": 1980, "currency": "USD"},
        "method": "tok_approve",
    }


async def test_the_sagas_internal_operations_are_not_in_the_public_api(router: ServerThread) -> None:
    for operation in (
        'mutation { reserveStock(input: {key: "k", orderId: "o", lines: []}) { id } }',
        'mutation { chargePayment(input: {key: "k", orderId: "o", userId: "u", method: "m",'
        ' amount: {amount: 1, currency: "USD"}}) { id } }',
        'mutation { refundPayment(key: "k", reason: "r") { id } }',
        'mutation { releaseReservation(key: "k", reason: "r") { id } }',
    ):
        answer = await ask(router, operation)
        assert answer["errors"][0]["extensions"]["code"] == "GRAPHQL_VALIDATION_FAILED", answer
