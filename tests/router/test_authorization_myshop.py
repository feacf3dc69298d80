"""The authorization directives on MyShop's own supergraph (the subgraphs' `guarded()` fields), through a
router with edge auth over the test stack's real subgraphs: the router refuses staff-only fields itself, and
the subgraphs' own checks stay behind it."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from edge_headers import PREFLIGHT

from shared.auth import TokenIssuer
from shared.testing import ServerThread

SUPERGRAPH = (Path(__file__).resolve().parents[2] / "schema" / "supergraph.graphql").read_text()
STAFF_AND_PUBLIC = "query($id: ID!) { promotion(id: $id) { id } products(first: 1) { totalCount } }"
TAX_RATES = "{ taxRates { country } }"


@pytest.fixture(scope="module")
def router(stack: Any, start_router: Any) -> ServerThread:
    urls = {name: f"{server.url}/graphql" for name, server in stack.servers.items()}
    return start_router(
        SUPERGRAPH, subgraph_urls=urls, jwks_url=f"{stack.url('users')}/.well-known/jwks.json"
    )


@pytest.fixture
async def client(router: ServerThread) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(base_url=router.url, headers=PREFLIGHT, timeout=10.0) as client:
        yield client


async def post(
    client: httpx.AsyncClient, query: str, token: str | None = None, **variables: Any
) -> dict[str, Any]:
    headers = {"authorization": f"Bearer {token}"} if token else {}
    response = await client.post("/graphql", json={"query": query, "variables": variables}, headers=headers)
    assert response.status_code == 200, response.text
    return response.json()


def codes(body: dict[str, Any]) -> list[str]:
    return [e["extensions"]["code"] for e in body.get("errors", ())]


async def test_a_customer_gets_null_for_a_staff_field_and_the_rest_of_the_answer(
    client: httpx.AsyncClient, issuer: TokenIssuer
) -> None:
    customer = issuer.issue(str(uuid.uuid4()), ["CUSTOMER"]).token
    body = await post(client, STAFF_AND_PUBLIC, customer, id=str(uuid.uuid4()))
    assert body["data"]["promotion"] is None
    assert isinstance(body["data"]["products"]["totalCount"], int)
    assert codes(body) == ["UNAUTHORIZED_FIELD_OR_TYPE"]
    assert body["errors"][0]["path"] == ["promotion"]
    # A non-null staff field takes its parent (here the whole data) with it.
    refused = await post(client, TAX_RATES, customer)
    assert refused["data"] is None
    assert [e["path"] for e in refused["errors"]] == [["taxRates"]]


async def test_an_admin_gets_the_staff_field(client: httpx.AsyncClient, issuer: TokenIssuer) -> None:
    admin = issuer.issue(str(uuid.uuid4()), ["ADMIN"]).token
    body = await post(client, TAX_RATES, admin)
    assert "errors" not in body
    assert isinstance(body["data"]["taxRates"], list)


async def test_an_anonymous_caller_is_refused_at_the_router(client: httpx.AsyncClient) -> None:
    body = await post(client, "{ me { id } }")
    assert body == {
        "data": {"me": None},
        "errors": [
            {
                "message": "Unauthorized field or type",
                "path": ["me"],
                "extensions": {"code": "UNAUTHORIZED_FIELD_OR_TYPE"},
            }
        ],
    }


async def test_a_scope_claim_passes_the_router_and_the_subgraph_still_checks_the_role(
    client: httpx.AsyncClient, issuer: TokenIssuer
) -> None:
    # The token's `scope` claim satisfies @requiresScopes at the router; orders' own IsAdmin reads roles.
    scoped = issuer.issue(str(uuid.uuid4()), ["CUSTOMER"], scopes=["ADMIN"]).token
    body = await post(client, TAX_RATES, scoped)
    assert codes(body) == ["FORBIDDEN"]
