"""Look-alike email addresses through the router: `register` with a full-width `a` in admin@ is refused with
BAD_USER_INPUT on field `email`, the subgraph's extensions passed through unchanged (issue 14 item 7)."""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx
import pytest

from shared.testing import ServerThread

REGISTER = """
mutation Register($input: RegisterInput!) { register(input: $input) { email } }
"""


@pytest.fixture
async def client(myshop_router: ServerThread) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(base_url=myshop_router.url, timeout=30) as client:
        yield client


async def test_a_full_width_admin_address_is_refused_through_the_router(client: httpx.AsyncClient) -> None:
    account = {"email": "\uff41dmin@myshop.dev", "password": "correct horse battery", "name": "Not Admin"}

    response = await client.post("/graphql", json={"query": REGISTER, "variables": {"input": account}})

    body = response.json()
    assert response.status_code == 200
    assert body.get("data") is None
    assert [(e["extensions"]["code"], e["extensions"]["field"]) for e in body["errors"]] == [
        ("BAD_USER_INPUT", "email")
    ]
