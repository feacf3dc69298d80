"""The address book through the router over MyShop's supergraph: a customer adds addresses and reads them back
through `me { addresses }` (the users subgraph's new fields composed, planned and cost-checked)."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest

from shared.testing import ServerThread

REGISTER = """
mutation Register($input: RegisterInput!) { register(input: $input) { email } }
"""
LOGIN = """
mutation Login($email: String!, $password: String!) {
  login(email: $email, password: $password) { accessToken user { id } }
}
"""
ADD = """
mutation Add($input: AddressInput!) {
  addAddress(input: $input, isDefaultShipping: true) { id postalCode phone isDefaultShipping }
}
"""
MY_ADDRESSES = "{ me { id addresses { id name city postalCode country phone isDefaultShipping } } }"


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


async def test_a_customer_adds_addresses_and_reads_them_through_me(client: httpx.AsyncClient) -> None:
    email = f"router-book-{uuid.uuid4().hex[:10]}@example.com"
    account = {"email": email, "password": "correct horse battery", "name": "Router Shopper"}
    await call(client, REGISTER, {"input": account})
    signed_in = (await call(client, LOGIN, {"email": email, "password": account["password"]}))["login"]
    token = signed_in["accessToken"]
    home = {
        "name": "Router Shopper",
        "line1": "1 Main St",
        "city": "Springfield",
        "region": "IL",
        "postalCode": "62701",
        "country": "US",
        "phone": "+1 217 555 0100",
    }
    work = {
        "name": "Router Shopper",
        "line1": "10 Downing Street",
        "city": "London",
        "postalCode": "SW1A 2AA",
        "country": "GB",
    }

    added = [(await call(client, ADD, {"input": address}, token))["addAddress"] for address in (home, work)]
    me = (await call(client, MY_ADDRESSES, {}, token))["me"]

    assert me["id"] == signed_in["user"]["id"]
    assert [a["id"] for a in me["addresses"]] == [a["id"] for a in added]
    assert [(a["city"], a["postalCode"], a["country"]) for a in me["addresses"]] == [
        ("Springfield", "62701", "US"),
        ("London", "SW1A 2AA", "GB"),
    ]
    assert me["addresses"][0]["phone"] == "+12175550100"
    # The second add took the default shipping flag from the first.
    assert [a["isDefaultShipping"] for a in me["addresses"]] == [False, True]
