"""The subgraph app factory: the surface every service shares (health, readiness, metrics, request ids,
error codes), exercised on a real server."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest

from shared.app import SubgraphGraphQL, create_subgraph_app
from shared.testing import ServerThread
from subgraphs import registry

pytestmark = pytest.mark.usefixtures("api")


@pytest.fixture
async def broken_database_server(data_dir: object) -> AsyncIterator[str]:
    """The users service with its database on a port where nothing listens."""
    definition = registry.load("users")
    settings = definition.settings_class(database_url="postgresql+asyncpg://postgres@127.0.0.1:1/nowhere")
    server = ServerThread(create_subgraph_app(definition, settings)).start()
    yield server.url
    await asyncio.to_thread(server.stop)


async def test_health_answers_without_touching_dependencies(http: httpx.AsyncClient, api: Any) -> None:
    for path in ("/health", "/health/"):
        response = await http.get(api.url("users") + path)
        assert response.status_code == 200
        assert response.json()["status"] == "ok"


async def test_ready_names_each_check(http: httpx.AsyncClient, api: Any) -> None:
    for name in api.servers:
        response = await http.get(api.url(name) + "/health/ready")
        assert response.status_code == 200
        body = response.json()
        assert body["service"] == name
        assert body["checks"]["database"]["status"] == "ok"
        assert body["checks"]["redis"]["status"] == "ok"


async def test_ready_is_503_naming_the_failed_check(
    http: httpx.AsyncClient, broken_database_server: str
) -> None:
    response = await http.get(broken_database_server + "/health/ready")
    assert response.status_code == 503
    checks = response.json()["checks"]
    assert checks["database"]["status"] == "error"
    assert checks["redis"]["status"] == "ok"


async def test_metrics_count_graphql_requests_and_error_codes(http: httpx.AsyncClient, api: Any) -> None:
    url = api.url("products")
    await http.post(url + "/graphql", json={"query": "{ products(first: 100000) { totalCount } }"})
    text = (await http.get(url + "/metrics")).text
    assert (
        'myshop_http_requests_total{method="POST",route="/graphql",service="products",status="200"}' in text
    )
    assert 'myshop_graphql_errors_total{code="BAD_USER_INPUT",service="products"}' in text


async def test_the_request_id_is_kept_or_made(http: httpx.AsyncClient, api: Any) -> None:
    url = api.url("users") + "/health"
    assert (await http.get(url, headers={"x-request-id": "abc-123"})).headers["x-request-id"] == "abc-123"
    made = (await http.get(url)).headers["x-request-id"]
    assert len(made) == 32
    # A header that could forge log lines is replaced, not echoed.
    assert (await http.get(url, headers={"x-request-id": "x\ty"})).headers["x-request-id"] != "x\ty"


@pytest.mark.parametrize(
    ("query", "code"),
    [
        ("{ products(first: 5 ", "GRAPHQL_PARSE_FAILED"),
        ("{ noSuchField }", "GRAPHQL_VALIDATION_FAILED"),
        ("query($n: Int!) { products(first: $n) { totalCount } }", "BAD_USER_INPUT"),
    ],
)
async def test_request_errors_carry_a_code_and_never_a_500(
    http: httpx.AsyncClient, api: Any, query: str, code: str
) -> None:
    response = await http.post(
        api.url("products") + "/graphql", json={"query": query, "variables": {"n": "x"}}
    )
    assert response.status_code in (200, 400)
    assert [error["extensions"]["code"] for error in response.json()["errors"]] == [code]


async def test_queries_work_over_get_but_mutations_do_not(http: httpx.AsyncClient, api: Any) -> None:
    url = api.url("products") + "/graphql"
    ok = await http.get(url, params={"query": "{ products(first: 1) { totalCount } }"})
    assert ok.status_code == 200 and ok.json()["data"]["products"]["totalCount"] == 0
    refused = await http.get(url, params={"query": 'mutation { archiveProduct(id: "x") { id } }'})
    # Strawberry answers 400 (the GraphQL-over-HTTP spec prefers 405; the router will).
    assert refused.status_code in (400, 405)


async def test_sibling_root_fields_share_the_request_session(http: httpx.AsyncClient, api: Any) -> None:
    # Both resolvers query the database at once through the one session of the request.
    query = (
        '{ products(first: 2) { totalCount } categories { name } a: products(search: "x") { totalCount } }'
    )
    response = await http.post(api.url("products") + "/graphql", json={"query": query})
    assert response.json() == {
        "data": {"products": {"totalCount": 0}, "categories": [], "a": {"totalCount": 0}}
    }


async def test_responses_are_compact_utf8_json(http: httpx.AsyncClient, api: Any) -> None:
    # Given an error message that quotes the client's non-ASCII input
    query = '{ products(first: "café") { totalCount } }'

    # When it is answered
    response = await http.post(api.url("products") + "/graphql", json={"query": query})

    # Then the body is compact UTF-8 JSON (orjson), not the standard library's \u escapes
    assert "café".encode() in response.content
    assert b"\\u00e9" not in response.content
    assert response.json()["errors"][0]["extensions"]["code"] == "GRAPHQL_VALIDATION_FAILED"


def test_a_response_orjson_refuses_is_still_written() -> None:
    view = SubgraphGraphQL(registry.load("products").schema)
    assert json.loads(view.encode_json({"data": {"n": 2**70, "s": "é"}})) == {"data": {"n": 2**70, "s": "é"}}
