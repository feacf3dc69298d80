"""Look-alike email addresses through the router: `register` with a full-width `a` in admin@ is refused with
BAD_USER_INPUT on field `email`, the subgraph's extensions passed through unchanged (issue 14 item 7)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from shared.testing import ServerThread

SUPERGRAPH = (Path(__file__).resolve().parents[2] / "schema" / "supergraph.graphql").read_text()
REGISTER = """
mutation Register($input: RegisterInput!) { register(input: $input) { email } }
"""


@pytest.fixture(scope="module")
def router(stack: Any, start_router: Any) -> ServerThread:
    return start_router(
        SUPERGRAPH, subgraph_urls={name: f"{s.url}/graphql" for name, s in stack.servers.items()}
    )


@pytest.fixture
async def client(router: ServerThread) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(base_url=router.url, timeout=30) as client:
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
