"""The router over MyShop's supergraph with the real pipeline: bad input gets a GraphQL error with a code and
the status of the GraphQL-over-HTTP spec, the router keeps serving, and readiness names each subgraph."""

from __future__ import annotations

import asyncio
import socket
import uuid
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import orjson
import pytest
from edge_headers import OPS, PREFLIGHT

from router.http.graphql import GRAPHQL_RESPONSE, JSON
from shared.testing import ServerThread
from subgraphs import registry

REPO = Path(__file__).resolve().parents[2]
SUPERGRAPH = (REPO / "schema" / "supergraph.graphql").read_text()
CREATE_PRODUCT = "mutation C($input: CreateProductInput!) { createProduct(input: $input) { id } }"


def closed_port_url() -> str:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    return f"http://127.0.0.1:{port}/graphql"


def stack_urls(stack: Any) -> dict[str, str]:
    return {name: f"{stack.url(name)}/graphql" for name in stack.servers}


@pytest.fixture(scope="module")
def router(stack: Any, start_router: Any) -> ServerThread:
    return start_router(SUPERGRAPH, subgraph_urls=stack_urls(stack))


@pytest.fixture
async def client(router: ServerThread) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(base_url=router.url, timeout=60) as client:
        yield client


def codes(response: httpx.Response) -> list[str]:
    return [error["extensions"]["code"] for error in response.json()["errors"]]


async def new_products(gql: Any, admin: str, count: int) -> None:
    """`count` active products, made on the products subgraph directly."""
    for _ in range(count):
        sku = f"GW-{uuid.uuid4().hex[:10].upper()}"
        product = {"sku": sku, "name": f"Gateway {sku}", "description": "",
                   "price": {"amount": 500, "currency": "USD"}, "category": "Tests"}  # fmt: skip
        (await gql("products", CREATE_PRODUCT, {"input": product}, token=admin)).ok()


DEEP = "{ " + "me { " * 200 + "id" + " }" * 200 + " }"
ALIASES = "{ " + " ".join(f"a{i}: __typename" for i in range(10_000)) + " }"

BAD_REQUESTS = [
    pytest.param({"query": "{ me { id "}, "GRAPHQL_PARSE_FAILED", id="unparsable"),
    pytest.param({"query": "{ me { shoeSize } }"}, "GRAPHQL_VALIDATION_FAILED", id="unknown-field"),
    pytest.param(
        {"query": "query($id: ID!) { user(id: $id) { id } }", "variables": {"id": {"not": "an id"}}},
        "BAD_USER_INPUT",
        id="wrong-variable-type",
    ),
    pytest.param(
        {"query": "query A { __typename } query B { __typename }"},
        "OPERATION_RESOLUTION_FAILURE",
        id="two-operations-no-name",
    ),
    # graphql-core's parser refuses this nesting before the depth check; the token cap stops the aliases.
    # (The limits' own codes are below, with limits low enough to be reached.)
    pytest.param({"query": DEEP}, "GRAPHQL_PARSE_FAILED", id="depth-200"),
    pytest.param({"query": ALIASES}, "GRAPHQL_PARSE_FAILED", id="10000-aliases"),
]


@pytest.mark.parametrize(("payload", "code"), BAD_REQUESTS)
async def test_bad_request_is_400_with_graphql_response_json(
    client: httpx.AsyncClient, payload: dict[str, Any], code: str
) -> None:
    response = await client.post("/graphql", json=payload, headers={"accept": GRAPHQL_RESPONSE})
    assert response.status_code == 400, response.text
    assert response.headers["content-type"].startswith(GRAPHQL_RESPONSE)
    assert codes(response) == [code]
    assert "data" not in response.json()
    assert (await client.post("/graphql", json={"query": "{ __typename }"})).status_code == 200


@pytest.mark.parametrize(("payload", "code"), BAD_REQUESTS)
async def test_bad_request_is_200_with_application_json(
    client: httpx.AsyncClient, payload: dict[str, Any], code: str
) -> None:
    response = await client.post("/graphql", json=payload, headers={"accept": JSON})
    assert response.status_code == 200, response.text
    assert codes(response) == [code]


async def test_depth_limit_has_its_own_code_below_the_parser_cap(start_router: Any) -> None:
    server = start_router(SUPERGRAPH, max_depth=5)
    try:
        async with httpx.AsyncClient(base_url=server.url) as client:
            query = "{ " + "me { " * 6 + "id" + " }" * 6 + " }"
            response = await client.post(
                "/graphql", json={"query": query}, headers={"accept": GRAPHQL_RESPONSE}
            )
    finally:
        await asyncio.to_thread(server.stop)
    assert response.status_code == 400
    assert codes(response) == ["MAX_DEPTH_EXCEEDED"]


async def test_alias_limit_has_its_own_code_below_the_token_cap(start_router: Any) -> None:
    server = start_router(SUPERGRAPH, max_aliases=100)
    try:
        async with httpx.AsyncClient(base_url=server.url) as client:
            query = "{ " + " ".join(f"a{i}: __typename" for i in range(101)) + " }"
            response = await client.post(
                "/graphql", json={"query": query}, headers={"accept": GRAPHQL_RESPONSE}
            )
    finally:
        await asyncio.to_thread(server.stop)
    assert response.status_code == 400
    assert codes(response) == ["MAX_ALIASES_EXCEEDED"]


async def test_ten_megabyte_body_is_413_and_the_router_keeps_serving(client: httpx.AsyncClient) -> None:
    body = orjson.dumps({"query": "{ __typename }", "variables": {"pad": "x" * 10_000_000}})
    response = await client.post("/graphql", content=body, headers={"content-type": JSON})
    assert response.status_code == 413
    assert codes(response) == ["PAYLOAD_TOO_LARGE"]
    assert (await client.post("/graphql", json={"query": "{ __typename }"})).json() == {
        "data": {"__typename": "Query"}
    }


async def test_mutation_over_get_is_405(client: httpx.AsyncClient) -> None:
    response = await client.get(
        "/graphql", params={"query": 'mutation { logout(refreshToken: "x") }'}, headers=PREFLIGHT
    )
    assert response.status_code == 405
    assert response.headers["allow"] == "POST"
    assert codes(response) == ["METHOD_NOT_ALLOWED"]


async def test_query_over_get_reaches_a_subgraph(client: httpx.AsyncClient, gql: Any, issuer: Any) -> None:
    admin = issuer.issue(str(uuid.uuid4()), ["ADMIN"]).token
    await new_products(gql, admin, 3)  # in a catalog emptied before (`gql`)

    response = await client.get(
        "/graphql",
        params={"query": "{ products(first: 1) { totalCount } }"},
        headers={"accept": JSON, **PREFLIGHT},
    )

    assert response.status_code == 200, response.text
    assert response.json() == {"data": {"products": {"totalCount": 3}}}


async def test_ready_names_every_subgraph(client: httpx.AsyncClient) -> None:
    response = await client.get("/health/ready", headers=OPS)
    assert response.status_code == 200, response.text
    subgraphs = response.json()["subgraphs"]
    assert set(subgraphs) == set(registry.SUBGRAPHS)
    assert all(subgraph["status"] == "ok" for subgraph in subgraphs.values())


async def test_ready_is_503_when_a_subgraph_is_down(stack: Any, start_router: Any) -> None:
    server = start_router(
        SUPERGRAPH,
        # A closed port refuses at once: the default timeout (2 s) only spares a loaded machine's answering
        # subgraphs from being called down.
        subgraph_urls={**stack_urls(stack), "products": closed_port_url()},
    )
    try:
        async with httpx.AsyncClient(base_url=server.url) as client:
            ready = await client.get("/health/ready", headers=OPS)
            alive = await client.get("/health")
    finally:
        await asyncio.to_thread(server.stop)
    assert ready.status_code == 503
    subgraphs = ready.json()["subgraphs"]
    assert subgraphs["users"]["status"] == "ok"
    assert subgraphs["products"]["status"] == "error"
    assert alive.status_code == 200
