"""The subgraph app factory: the surface every service shares (health, readiness, metrics, request ids,
error codes), exercised on a real server."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest

from shared.app import create_subgraph_app
from shared.graphql_http import SubgraphGraphQL
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


async def test_a_post_answers_as_strawberrys_view_does(http: httpx.AsyncClient, api: Any) -> None:
    # A POST of one JSON operation takes the short path (shared/graphql_http.py); a GET goes through
    # Strawberry's own view. The same query with data and an error answers byte for byte alike.
    url = api.url("products") + "/graphql"
    query = (
        "{ products(first: 1) { totalCount } categories { name } bad: products(first: -1) { totalCount } }"
    )
    posted = await http.post(url, json={"query": query}, headers={"x-request-id": "short-1"})
    got = await http.get(url, params={"query": query})
    assert posted.status_code == got.status_code == 200
    assert posted.content == got.content
    assert posted.json()["errors"][0]["extensions"]["code"] == "BAD_USER_INPUT"
    assert posted.headers["content-type"] == "application/json"
    assert int(posted.headers["content-length"]) == len(posted.content)
    assert posted.headers["x-request-id"] == "short-1"
    # The operation's name and variables are taken as Strawberry takes them.
    named = await http.post(
        url,
        content=json.dumps(
            {
                "query": "query A { categories { name } } "
                "query B($n: Int) { products(first: $n) { totalCount } }",
                "operationName": "B",
                "variables": {"n": 2},
                "extensions": {},
            }
        ),
        headers={"content-type": "application/json; charset=utf-8"},
    )
    assert named.json() == {"data": {"products": {"totalCount": 0}}}


@pytest.mark.parametrize(
    ("body", "content_type", "reason"),
    [
        (b"{not json", "application/json", "Unable to parse request body as JSON"),
        (b'{"query": 5}', "application/json", "The GraphQL operation's `query` must be a string or null"),
        (
            b'{"query": "{ categories { name } }", "variables": [1]}',
            "application/json",
            "`variables` must be",
        ),
        (b'{"query": ""}', "application/json", "No GraphQL query found in the request"),
        (b'{"variables": {}}', "application/json", "No GraphQL query found in the request"),
        (b'{"query": "query A { categories { name } }", "operationName": "B"}', "application/json", "B"),
        (b'{"query": "{ categories { name } }"}', "text/plain", "Unsupported content type"),
    ],
)
async def test_a_malformed_post_gets_strawberrys_400(
    http: httpx.AsyncClient, api: Any, body: bytes, content_type: str, reason: str
) -> None:
    # What the short path does not run as it is goes to Strawberry's view with its body, which refuses it in
    # its own words (and nothing of ours answers a 500).
    response = await http.post(
        api.url("products") + "/graphql", content=body, headers={"content-type": content_type}
    )
    assert response.status_code == 400
    assert reason in response.text


async def test_a_subscription_is_refused_over_http_not_run(http: httpx.AsyncClient, api: Any) -> None:
    # Subscriptions stream over WebSocket only: over HTTP, Strawberry ran the subscription's resolver as a
    # plain field, which failed INTERNAL. Now a clear 400, by POST (the short path) and by GET alike.
    url = api.url("orders") + "/graphql"
    query = "subscription { orderUpdates { cursor } }"
    posted = await http.post(url, json={"query": query})
    assert posted.status_code == 400
    assert posted.text == "subscriptions are not allowed when using POST"
    got = await http.get(url, params={"query": query})
    assert got.status_code == 400
    assert got.text == "subscriptions are not allowed when using GET"


async def test_a_batch_is_answered_by_strawberrys_view(http: httpx.AsyncClient, api: Any) -> None:
    response = await http.post(api.url("products") + "/graphql", json=[{"query": "{ categories { name } }"}])
    assert response.status_code == 400
    assert "batch" in response.text.lower()
