"""The router's HTTP layer over real uvicorn: GraphQL-over-HTTP statuses and media types, the body limit,
health and readiness, metrics, GraphiQL's page and assets. A stand-in gateway behind the real pipeline
isolates the layer; the real one is in test_server_gateway.py."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Iterator, Mapping
from typing import Any

import httpx
import orjson
import pytest
from edge_headers import OPS, PREFLIGHT
from standin import GatewayStandIn

from router.config import RouterConfig
from router.http.graphql import GRAPHQL_RESPONSE, JSON, negotiate
from router.pipeline.errors import RequestError
from router.pipeline.request import GraphQLRequest
from router.server import create_app
from shared.testing import ServerThread


class StandInGateway(GatewayStandIn):
    """Canned answers: the query text picks the outcome."""

    def __init__(self, subgraphs: Mapping[str, str]) -> None:
        super().__init__(dict(subgraphs))
        self.calls: list[dict[str, Any]] = []

    async def answer(self, request: GraphQLRequest) -> dict[str, Any]:
        query = request.query or ""
        variables, operation_name = request.variables, request.operation_name
        self.calls.append(
            {
                "query": query,
                "variables": variables,
                "operation_name": operation_name,
                "method": request.method,
            }
        )
        if query.startswith("mutation") and request.method == "GET":
            raise RequestError.of(
                "rejected: METHOD_NOT_ALLOWED", "METHOD_NOT_ALLOWED", 405, ((b"allow", b"POST"),)
            )
        if query == "crash":
            raise RuntimeError("secret internals")
        if "{" not in query:
            raise RequestError.of("rejected: GRAPHQL_PARSE_FAILED", "GRAPHQL_PARSE_FAILED")
        if "partial" in query:
            return {
                "data": {"me": None},
                "errors": [{"message": "down", "extensions": {"code": "SUBREQUEST_HTTP_ERROR"}}],
            }
        return {"data": {"echo": {"variables": variables, "operationName": operation_name}}}


async def subgraph_app(scope: dict[str, Any], receive: Any, send: Any) -> None:
    """A subgraph that answers any POST with `{"data": {"__typename": "Query"}}`."""
    if scope["type"] != "http":
        return
    while (await receive()).get("more_body"):
        pass
    body = b'{"data":{"__typename":"Query"}}'
    await send(
        {"type": "http.response.start", "status": 200, "headers": [(b"content-type", b"application/json")]}
    )
    await send({"type": "http.response.body", "body": body})


def closed_port_url() -> str:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    return f"http://127.0.0.1:{port}/graphql"


@pytest.fixture(scope="module")
def subgraph() -> Iterator[ServerThread]:
    server = ServerThread(subgraph_app).start()
    yield server
    server.stop()


@pytest.fixture(scope="module")
def gateway(subgraph: ServerThread) -> StandInGateway:
    return StandInGateway({"users": f"{subgraph.url}/graphql"})


@pytest.fixture(scope="module")
def router(gateway: StandInGateway) -> Iterator[ServerThread]:
    config = RouterConfig(max_body_bytes=64 * 1024)
    server = ServerThread(create_app(gateway, config)).start()
    yield server
    server.stop()


@pytest.fixture
async def client(router: ServerThread) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(base_url=router.url, timeout=30) as client:
        yield client


def codes(response: httpx.Response) -> list[str]:
    return [error["extensions"]["code"] for error in response.json()["errors"]]


# --- content negotiation ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("accept", "expected"),
    [
        ("", JSON),
        ("*/*", JSON),
        ("application/json", JSON),
        ("application/graphql-response+json", GRAPHQL_RESPONSE),
        ("application/graphql-response+json, application/json;q=0.9", GRAPHQL_RESPONSE),
        ("application/json, application/graphql-response+json;q=0.5", JSON),
        ("application/*;q=0.5", JSON),
        ("text/plain", None),
        ("application/graphql-response+json;q=0", None),
    ],
)
def test_accept_header_picks_the_response_media_type(accept: str, expected: str | None) -> None:
    assert negotiate(accept)[0] == expected


async def test_post_without_accept_answers_application_json(client: httpx.AsyncClient) -> None:
    response = await client.post("/graphql", json={"query": "{ echo }"})
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("application/json")
    assert response.json()["data"]["echo"] == {"variables": None, "operationName": None}


async def test_post_passes_variables_and_operation_name(client: httpx.AsyncClient) -> None:
    response = await client.post(
        "/graphql",
        json={"query": "query Q($id: ID) { echo }", "variables": {"id": "7"}, "operationName": "Q"},
    )
    assert response.json()["data"]["echo"] == {"variables": {"id": "7"}, "operationName": "Q"}


async def test_graphql_response_json_is_answered_in_that_media_type(client: httpx.AsyncClient) -> None:
    response = await client.post("/graphql", json={"query": "{ echo }"}, headers={"accept": GRAPHQL_RESPONSE})
    assert response.status_code == 200
    assert response.headers["content-type"].startswith(GRAPHQL_RESPONSE)


async def test_request_error_is_400_in_graphql_response_json(client: httpx.AsyncClient) -> None:
    response = await client.post("/graphql", json={"query": "nonsense"}, headers={"accept": GRAPHQL_RESPONSE})
    assert response.status_code == 400
    assert response.headers["content-type"].startswith(GRAPHQL_RESPONSE)
    assert codes(response) == ["GRAPHQL_PARSE_FAILED"]
    assert "data" not in response.json()


async def test_request_error_is_200_in_application_json(client: httpx.AsyncClient) -> None:
    response = await client.post("/graphql", json={"query": "nonsense"}, headers={"accept": JSON})
    assert response.status_code == 200
    assert codes(response) == ["GRAPHQL_PARSE_FAILED"]


async def test_partial_data_is_200_in_both_media_types(client: httpx.AsyncClient) -> None:
    for accept in (JSON, GRAPHQL_RESPONSE):
        response = await client.post("/graphql", json={"query": "{ partial }"}, headers={"accept": accept})
        assert response.status_code == 200
        assert codes(response) == ["SUBREQUEST_HTTP_ERROR"]


async def test_unsupported_accept_is_406(client: httpx.AsyncClient) -> None:
    response = await client.post("/graphql", json={"query": "{ echo }"}, headers={"accept": "text/plain"})
    assert response.status_code == 406
    assert codes(response) == ["NOT_ACCEPTABLE"]


# --- malformed requests -------------------------------------------------------------------------------------


async def test_malformed_json_is_400_with_a_code(client: httpx.AsyncClient) -> None:
    for accept in (JSON, GRAPHQL_RESPONSE):
        response = await client.post(
            "/graphql", content=b'{"query": "{ echo }"', headers={"content-type": JSON, "accept": accept}
        )
        assert response.status_code == 400
        assert codes(response) == ["BAD_REQUEST"]


@pytest.mark.parametrize(
    "body",
    [
        # b"[]" is a batch: test_router_batching.py (BATCHING_NOT_ENABLED, BATCH_EMPTY)
        b'"{ echo }"',
        b"{}",
        b'{"query": 5}',
        b'{"query": "{ echo }", "variables": [1]}',
        b'{"query": "{ echo }", "operationName": 3}',
        b'{"query": "{ echo }", "extensions": "x"}',
    ],
)
async def test_ill_typed_parameters_are_400(client: httpx.AsyncClient, body: bytes) -> None:
    response = await client.post("/graphql", content=body, headers={"content-type": JSON})
    assert response.status_code == 400
    assert codes(response) == ["BAD_REQUEST"]


@pytest.mark.parametrize("content_type", [None, "text/plain", "application/x-www-form-urlencoded"])
async def test_wrong_content_type_is_415(client: httpx.AsyncClient, content_type: str | None) -> None:
    headers = {"content-type": content_type} if content_type else {}
    response = await client.post("/graphql", content=b'{"query": "{ echo }"}', headers=headers)
    assert response.status_code == 415
    assert codes(response) == ["UNSUPPORTED_MEDIA_TYPE"]


async def test_json_content_type_with_charset_is_accepted(client: httpx.AsyncClient) -> None:
    response = await client.post(
        "/graphql",
        content=b'{"query": "{ echo }"}',
        headers={"content-type": "application/json; charset=utf-8"},
    )
    assert response.status_code == 200


async def test_body_over_the_limit_is_413_and_the_router_keeps_serving(client: httpx.AsyncClient) -> None:
    # 64 KiB limit here: a body just over it is drained and refused, a 10 MB one refused without reading it.
    for size in (64 * 1024 + 1, 10 * 1024 * 1024):
        body = orjson.dumps({"query": "{ echo }", "variables": {"pad": "x" * size}})
        try:
            response = await client.post("/graphql", content=body, headers={"content-type": JSON})
        except httpx.TransportError:
            # Refusing without reading may reset the connection before the client reads the 413.
            assert size > 64 * 1024 * 8
        else:
            assert response.status_code == 413
            assert codes(response) == ["PAYLOAD_TOO_LARGE"]
    assert (await client.post("/graphql", json={"query": "{ echo }"})).status_code == 200


async def test_put_is_405(client: httpx.AsyncClient) -> None:
    response = await client.put("/graphql", json={"query": "{ echo }"})
    assert response.status_code == 405
    assert "POST" in response.headers["allow"]
    assert codes(response) == ["METHOD_NOT_ALLOWED"]


async def test_unexpected_failure_is_internal_without_details(client: httpx.AsyncClient) -> None:
    response = await client.post("/graphql", json={"query": "crash"})
    assert response.status_code == 500
    assert codes(response) == ["INTERNAL"]
    assert "secret" not in response.text
    assert "Traceback" not in response.text


async def test_unknown_path_is_404_graphql_shaped(client: httpx.AsyncClient) -> None:
    response = await client.get("/nope")
    assert response.status_code == 404
    assert codes(response) == ["NOT_FOUND"]


# --- GET ----------------------------------------------------------------------------------------------------


async def test_get_runs_a_query_from_query_parameters(
    client: httpx.AsyncClient, gateway: StandInGateway
) -> None:
    response = await client.get(
        "/graphql",
        params={"query": "query Q($n: Int) { echo }", "variables": '{"n": 2}', "operationName": "Q"},
        headers={"accept": JSON, **PREFLIGHT},
    )
    assert response.status_code == 200
    assert response.json()["data"]["echo"] == {"variables": {"n": 2}, "operationName": "Q"}
    assert gateway.calls[-1]["method"] == "GET"


async def test_mutation_over_get_is_405(client: httpx.AsyncClient) -> None:
    for accept in (JSON, GRAPHQL_RESPONSE):
        response = await client.get(
            "/graphql", params={"query": "mutation { logout }"}, headers={"accept": accept, **PREFLIGHT}
        )
        assert response.status_code == 405
        assert response.headers["allow"] == "POST"
        assert codes(response)


async def test_get_with_bad_variables_json_is_400(client: httpx.AsyncClient) -> None:
    response = await client.get("/graphql?query=%7Becho%7D&variables=%7Bnope")
    assert response.status_code == 400
    assert codes(response) == ["BAD_REQUEST"]


async def test_get_without_query_is_400(client: httpx.AsyncClient) -> None:
    response = await client.get("/graphql", headers={"accept": JSON})
    assert response.status_code == 400
    assert codes(response) == ["BAD_REQUEST"]


async def test_request_id_is_taken_from_the_caller_or_made(client: httpx.AsyncClient) -> None:
    given = await client.post("/graphql", json={"query": "{ echo }"}, headers={"x-request-id": "abc-123"})
    assert given.headers["x-request-id"] == "abc-123"
    made = await client.post("/graphql", json={"query": "{ echo }"})
    assert len(made.headers["x-request-id"]) == 32
    odd = await client.post("/graphql", json={"query": "{ echo }"}, headers={"x-request-id": "a b<c>"})
    assert odd.headers["x-request-id"] != "a b<c>"


# --- GraphiQL -----------------------------------------------------------------------------------------------

BROWSER_ACCEPT = "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8"


async def test_browser_gets_graphiql_from_local_assets(client: httpx.AsyncClient) -> None:
    page = await client.get("/graphql", headers={"accept": BROWSER_ACCEPT})
    assert page.status_code == 200
    assert page.headers["content-type"].startswith("text/html")
    assert "https://" not in page.text and "http://" not in page.text  # nothing from a CDN
    for name in ("react.js", "react-dom.js", "graphiql.js", "graphiql.css"):
        assert f"/graphiql/{name}" in page.text
        asset = await client.get(f"/graphiql/{name}")
        assert asset.status_code == 200, name
        assert len(asset.content) > 1000
        again = await client.get(f"/graphiql/{name}", headers={"if-none-match": asset.headers["etag"]})
        assert again.status_code == 304


async def test_graphiql_assets_are_gzipped_for_clients_that_accept_it(client: httpx.AsyncClient) -> None:
    plain = await client.get("/graphiql/graphiql.js", headers={"accept-encoding": "identity"})
    zipped = await client.get("/graphiql/graphiql.js", headers={"accept-encoding": "gzip"})
    assert zipped.headers["content-encoding"] == "gzip"
    assert zipped.content == plain.content  # httpx decodes it
    assert int(zipped.headers["content-length"]) < len(plain.content) / 3


async def test_browser_asking_with_a_query_gets_the_result(client: httpx.AsyncClient) -> None:
    response = await client.get("/graphql", params={"query": "{ echo }"}, headers={"accept": BROWSER_ACCEPT})
    assert response.headers["content-type"].startswith("application/json")


# --- health, readiness, metrics -----------------------------------------------------------------------------


async def test_health_is_ok(client: httpx.AsyncClient) -> None:
    for path in ("/health", "/health/"):
        response = await client.get(path)
        assert response.status_code == 200
        assert response.json() == {"status": "ok"}


async def test_ready_names_each_subgraph_with_its_latency(client: httpx.AsyncClient) -> None:
    response = await client.get("/health/ready", headers=OPS)
    assert response.status_code == 200
    body = response.json()
    assert body["status"] == "ok"
    assert body["subgraphs"]["users"]["status"] == "ok"
    assert body["subgraphs"]["users"]["latency_ms"] >= 0


async def test_ready_is_503_naming_the_subgraph_that_is_down(subgraph: ServerThread) -> None:
    gateway = StandInGateway({"users": f"{subgraph.url}/graphql", "products": closed_port_url()})
    server = ServerThread(
        create_app(
            gateway,
            RouterConfig(graphiql=False),
        )
    ).start()
    try:
        async with httpx.AsyncClient(base_url=server.url) as client:
            response = await client.get("/health/ready", headers=OPS)
            alive = await client.get("/health")
    finally:
        await asyncio.to_thread(server.stop)
    assert response.status_code == 503
    body = response.json()
    assert body["status"] == "unavailable"
    assert body["subgraphs"]["users"]["status"] == "ok"
    assert body["subgraphs"]["products"]["status"] == "error"
    assert alive.status_code == 200
    assert gateway.closed  # the lifespan's shutdown closed the pipeline


async def test_ready_when_any_stays_ready_with_one_subgraph_down_and_not_with_all(
    subgraph: ServerThread,
) -> None:
    """Replicas behind a load balancer (`ready_when: any`): one subgraph down leaves the router in rotation
    (it answers the rest with partial data), every subgraph down takes it out."""
    down = closed_port_url()
    answers = []
    for urls in ({"users": f"{subgraph.url}/graphql", "products": down}, {"users": down, "products": down}):
        server = ServerThread(
            create_app(
                StandInGateway(urls),
                RouterConfig(graphiql=False, ready_when="any"),
            )
        ).start()
        try:
            async with httpx.AsyncClient(base_url=server.url) as client:
                detailed = await client.get("/health/ready", headers=OPS)
                public = await client.get("/health/ready")
        finally:
            await asyncio.to_thread(server.stop)
        answers.append(
            (detailed.status_code, public.status_code, detailed.json()["subgraphs"]["products"]["status"])
        )
    assert answers == [(200, 200, "error"), (503, 503, "error")]


async def test_metrics_count_requests_by_status(client: httpx.AsyncClient) -> None:
    await client.post("/graphql", json={"query": "nonsense"}, headers={"accept": GRAPHQL_RESPONSE})
    response = await client.get("/metrics", headers=OPS)
    assert response.status_code == 200
    text = response.text
    assert 'myshop_http_requests_total{method="POST",route="/graphql",service="router",status="400"}' in text
    assert "myshop_http_request_duration_seconds_bucket" in text
