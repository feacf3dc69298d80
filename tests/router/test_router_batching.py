"""Query batching (router/pipeline/batch.py, the HTTP door's array body): answers in order, each entry
isolated, the batch's limits and codes, the door's rules applied to the whole body (size limit, compression,
GET and SSE refused), metrics; then MyShop's supergraph through the stack (auth per entry, headers shared)
and Apollo Client's BatchHttpLink sending three queries as one HTTP request."""

from __future__ import annotations

import asyncio
import shutil
import subprocess
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import httpx
import orjson
import pytest
from edge_headers import OPS
from standin import GatewayStandIn

from router.config import RouterConfig
from router.http.app import RouterApp
from router.pipeline.batch import BatchingConfig
from router.pipeline.errors import RequestError
from router.pipeline.request import GraphQLRequest
from router.server import build_gateway, create_app
from shared.auth import TokenIssuer
from shared.testing import ServerThread

REPO = Path(__file__).resolve().parents[2]
SUPERGRAPH = (REPO / "schema" / "supergraph.graphql").read_text()
SCRIPT = Path(__file__).with_name("batch_client.mjs")
ON = BatchingConfig(enabled=True, max_size=5, concurrency=2)


class EchoGateway(GatewayStandIn):
    """Answers by the query's text: `sleep:<s>` waits, `bad` is refused, `crash` fails, `big` is large; it
    records how many entries ran at once and the headers each got."""

    def __init__(self) -> None:
        super().__init__()
        self.running = 0
        self.most_at_once = 0
        self.seen: list[GraphQLRequest] = []

    async def answer(self, request: GraphQLRequest) -> dict[str, Any]:
        self.seen.append(request)
        self.running += 1
        self.most_at_once = max(self.most_at_once, self.running)
        try:
            query = request.query or ""
            if query.startswith("sleep:"):
                await asyncio.sleep(float(query.split(":")[1]))
            if query == "bad":
                raise RequestError.of("refused", "GRAPHQL_VALIDATION_FAILED")
            if query == "crash":
                raise RuntimeError("secret internals")
            if query == "big":
                return {"data": {"text": "x" * 5000}}
            return {"data": {"query": query, "variables": request.variables}}
        finally:
            self.running -= 1


def _start(gateway: EchoGateway, **settings: Any) -> tuple[ServerThread, RouterApp]:
    config = RouterConfig(**{"graphiql": False, "batching": ON, **settings})
    app = create_app(gateway, config)
    return ServerThread(app).start(), app


@pytest.fixture(scope="module")
def echo() -> Iterator[tuple[ServerThread, EchoGateway, RouterApp]]:
    gateway = EchoGateway()
    server, app = _start(gateway)
    yield server, gateway, app
    server.stop()


@pytest.fixture
async def client(echo: tuple[ServerThread, EchoGateway, RouterApp]) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(base_url=echo[0].url, timeout=30) as client:
        yield client


def entry(query: str, **params: Any) -> dict[str, Any]:
    return {"query": query, **params}


def codes(answer: dict[str, Any]) -> list[str]:
    return [error["extensions"]["code"] for error in answer.get("errors", [])]


async def test_a_batch_answers_in_order_whichever_entry_finishes_first(client: httpx.AsyncClient) -> None:
    batch = [entry("sleep:0.3"), entry("sleep:0.1", variables={"n": 2}), entry("sleep:0")]

    response = await client.post("/graphql", json=batch)

    assert response.status_code == 200
    assert [answer["data"]["query"] for answer in response.json()] == ["sleep:0.3", "sleep:0.1", "sleep:0"]
    assert response.json()[1]["data"]["variables"] == {"n": 2}


async def test_one_refused_and_one_crashing_entry_do_not_fail_the_good_ones(
    client: httpx.AsyncClient,
) -> None:
    batch = [entry("{ a }"), entry("bad"), entry("crash"), {"variables": {}}, entry("{ b }")]

    for accept in ("application/json", "application/graphql-response+json"):
        response = await client.post("/graphql", json=batch, headers={"accept": accept})

        assert response.status_code == 200  # a mix has no status of its own: each entry carries its errors
        answers = response.json()
        assert [codes(answer) for answer in answers] == [
            [],
            ["GRAPHQL_VALIDATION_FAILED"],
            ["INTERNAL"],
            ["BAD_REQUEST"],
            [],
        ]
        assert answers[0]["data"]["query"] == "{ a }" and answers[4]["data"]["query"] == "{ b }"
        assert "secret" not in response.text


async def test_entries_run_concurrently_but_never_more_than_the_configured_bound(
    echo: tuple[ServerThread, EchoGateway, RouterApp], client: httpx.AsyncClient
) -> None:
    echo[1].most_at_once = 0

    response = await client.post("/graphql", json=[entry("sleep:0.2")] * 5)

    assert response.status_code == 200
    assert echo[1].most_at_once == ON.concurrency


@pytest.mark.parametrize(
    ("body", "code"),
    [
        ([entry("{ a }")] * 6, "BATCH_TOO_LARGE"),
        ([], "BATCH_EMPTY"),
        ([entry("{ a }"), "{ b }"], "BATCH_ENTRY_INVALID"),
        ([entry("{ a }"), None], "BATCH_ENTRY_INVALID"),
    ],
)
async def test_a_batch_that_cannot_run_is_refused_whole_with_a_code(
    echo: tuple[ServerThread, EchoGateway, RouterApp], client: httpx.AsyncClient, body: Any, code: str
) -> None:
    before = len(echo[1].seen)

    for accept in ("application/json", "application/graphql-response+json"):
        response = await client.post("/graphql", json=body, headers={"accept": accept})

        assert response.status_code == 400
        assert codes(response.json()) == [code]
    assert len(echo[1].seen) == before  # no entry ran


async def test_a_deferring_entry_is_refused_alone(client: httpx.AsyncClient) -> None:
    batch = [entry("{ a ... @defer { b } }"), entry("{ c }")]

    response = await client.post("/graphql", json=batch)

    assert response.status_code == 200
    assert [codes(answer) for answer in response.json()] == [["BATCH_ENTRY_CANNOT_STREAM"], []]


async def test_a_batch_asking_for_an_event_stream_is_refused(client: httpx.AsyncClient) -> None:
    response = await client.post("/graphql", json=[entry("{ a }")], headers={"accept": "text/event-stream"})

    assert response.status_code == 400
    assert codes(response.json()) == ["BATCH_ENTRY_CANNOT_STREAM"]


async def test_the_body_size_limit_counts_the_whole_batch() -> None:
    gateway = EchoGateway()
    server, _ = _start(gateway, max_body_bytes=200)
    try:
        async with httpx.AsyncClient(base_url=server.url, timeout=30) as client:
            small = await client.post("/graphql", json=[entry("{ a }")] * 2)
            large = await client.post("/graphql", json=[entry("{ aaaaaaaaaaaaaaaaaaaaaaaaa }")] * 5)
    finally:
        server.stop()

    assert small.status_code == 200
    assert large.status_code == 413
    assert codes(large.json()) == ["PAYLOAD_TOO_LARGE"]
    assert len(gateway.seen) == 2


async def test_a_large_batch_answer_is_compressed_whole(client: httpx.AsyncClient) -> None:
    response = await client.post(
        "/graphql", json=[entry("big"), entry("{ a }")], headers={"accept-encoding": "gzip"}
    )

    assert response.status_code == 200
    assert response.headers["content-encoding"] == "gzip"
    assert len(response.json()) == 2  # httpx decoded it
    assert int(response.headers["content-length"]) < 5000


async def test_metrics_count_each_operation_and_the_batch_size(
    echo: tuple[ServerThread, EchoGateway, RouterApp], client: httpx.AsyncClient
) -> None:
    before = echo[2].graphql.batch_metrics.batches

    await client.post("/graphql", json=[entry("{ a }"), entry("{ b }"), entry("bad")])
    scraped = (await client.get("/metrics", headers=OPS)).text

    assert echo[2].graphql.batch_metrics.batches == before + 1
    assert "myshop_router_batch_size_bucket" in scraped
    count = next(
        float(line.split()[-1])
        for line in scraped.splitlines()
        if line.startswith("myshop_router_batch_size_count")
    )
    assert count == before + 1
    # Each entry is an operation of its own in the GraphQL metrics (the refused one as an error).
    assert 'code="GRAPHQL_VALIDATION_FAILED"' in scraped


async def test_batching_off_refuses_an_array_with_a_code_and_still_answers_single_requests() -> None:
    gateway = EchoGateway()
    server, _ = _start(gateway, batching=BatchingConfig())
    try:
        async with httpx.AsyncClient(base_url=server.url, timeout=30) as client:
            batch = await client.post("/graphql", json=[entry("{ a }")])
            single = await client.post("/graphql", json=entry("{ a }"))
    finally:
        server.stop()

    assert BatchingConfig().enabled is False  # the documented default
    assert batch.status_code == 400
    assert codes(batch.json()) == ["BATCHING_NOT_ENABLED"]
    assert single.status_code == 200 and single.json()["data"]["query"] == "{ a }"


async def test_entries_share_the_requests_headers_each_in_its_own_copy(
    echo: tuple[ServerThread, EchoGateway, RouterApp], client: httpx.AsyncClient
) -> None:
    echo[1].seen.clear()

    await client.post(
        "/graphql",
        json=[entry("{ a }"), entry("{ b }")],
        headers={"authorization": "Bearer t", "x-request-id": "r1"},
    )

    first, second = echo[1].seen
    assert first.headers["authorization"] == second.headers["authorization"] == "Bearer t"
    assert first.headers["x-request-id"] == second.headers["x-request-id"] == "r1"
    assert first.headers is not second.headers


def test_router_yaml_and_the_environment_configure_batching(monkeypatch: pytest.MonkeyPatch) -> None:
    config = RouterConfig.load(REPO / "router.yaml")
    assert config.batching.enabled is True and config.batching.max_size == 10

    monkeypatch.setenv("MYSHOP_ROUTER_BATCHING__MAX_SIZE", "3")
    assert RouterConfig.load(REPO / "router.yaml").batching.max_size == 3


# --- MyShop's supergraph through the stack -----------------------------------------------------------------


class CountingApp:
    """The router app, counting the HTTP requests to /graphql it is sent (the one-request proof)."""

    def __init__(self, app: RouterApp) -> None:
        self.app = app
        self.graphql_requests = 0

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] == "http" and scope["path"] == "/graphql":
            self.graphql_requests += 1
        await self.app(scope, receive, send)


@pytest.fixture(scope="module")
def myshop_batching(stack: Any) -> Iterator[tuple[ServerThread, CountingApp]]:
    """The router over MyShop's supergraph and this run's subgraphs (as `myshop_router`), batching on."""
    config = RouterConfig(
        graphiql=False,
        batching=BatchingConfig(enabled=True, max_size=10),
        subgraph_urls={name: f"{s.url}/graphql" for name, s in stack.servers.items()},
    )
    counting = CountingApp(create_app(build_gateway(SUPERGRAPH, config), config))
    server = ServerThread(counting).start()
    yield server, counting
    server.stop()


PRODUCTS = "query Products { products(first: 2) { nodes { id name } } }"
USERS = "query Users { users(first: 1) { totalCount } }"


async def test_a_myshop_batch_runs_each_entry_through_the_whole_stack(
    api: Any, myshop_batching: tuple[ServerThread, CountingApp]
) -> None:
    batch = [
        entry(PRODUCTS),
        entry("{ products(first: 2) { nodes { nope } } }"),
        entry("{ products(first: 100000) { nodes { id reviews { id } } } }"),
        entry("subscription { orderUpdates { id } }"),
        entry("{ categories { name } }"),
    ]
    async with httpx.AsyncClient(base_url=myshop_batching[0].url, timeout=30) as client:
        response = await client.post("/graphql", json=batch)

    assert response.status_code == 200, response.text
    answers = response.json()
    assert answers[0]["data"]["products"]["nodes"] == []
    assert codes(answers[1]) == ["GRAPHQL_VALIDATION_FAILED"]
    assert codes(answers[2])  # a bound or demand control: refused with a code, alone
    assert codes(answers[3]) and codes(answers[3])[0] in {
        "SUBSCRIPTION_TRANSPORT_REQUIRED",
        "GRAPHQL_VALIDATION_FAILED",
    }
    assert answers[4] == {"data": {"categories": []}}


async def test_auth_applies_per_entry_with_the_batchs_shared_token(
    issuer: TokenIssuer, myshop_batching: tuple[ServerThread, CountingApp]
) -> None:
    admin = issuer.issue(str(uuid.uuid4()), ["ADMIN"]).token
    batch = [entry(USERS), entry(PRODUCTS)]
    async with httpx.AsyncClient(base_url=myshop_batching[0].url, timeout=30) as client:
        anonymous = (await client.post("/graphql", json=batch)).json()
        signed_in = (
            await client.post("/graphql", json=batch, headers={"authorization": f"Bearer {admin}"})
        ).json()

    assert codes(anonymous[0]) == ["UNAUTHENTICATED"]
    assert "errors" not in anonymous[1]
    assert "errors" not in signed_in[0] and signed_in[0]["data"]["users"]["totalCount"] == 0
    assert "errors" not in signed_in[1]


@pytest.mark.skipif(
    not shutil.which("node") or not (REPO / "node_modules" / "@apollo" / "client").exists(),
    reason="needs node and `npm ci` (@apollo/client)",
)
async def test_apollo_clients_batch_http_link_sends_three_queries_in_one_request(
    api: Any, myshop_batching: tuple[ServerThread, CountingApp]
) -> None:
    server, counting = myshop_batching
    before = counting.graphql_requests

    completed = await asyncio.to_thread(
        subprocess.run,
        ["node", str(SCRIPT), f"{server.url}/graphql"],
        cwd=REPO,
        capture_output=True,
        timeout=120,
    )

    lines = completed.stdout.decode().strip().splitlines()
    assert completed.returncode == 0 and lines, completed.stderr.decode()[-2000:]
    report = orjson.loads(lines[-1])
    assert report["posts"] == 1
    assert counting.graphql_requests - before == 1  # the router saw one HTTP request
    answers = report["answers"]
    # Apollo Client asks for __typename itself.
    assert answers["products"] == {
        "data": {"products": {"nodes": [], "__typename": "ProductConnection"}},
        "codes": [],
    }
    assert answers["categories"] == {"data": {"categories": []}, "codes": []}
    assert answers["zones"]["codes"] == ["UNAUTHENTICATED"]  # anonymous: that entry alone fails


async def test_a_get_cannot_carry_a_batch(myshop_batching: tuple[ServerThread, CountingApp]) -> None:
    query = orjson.dumps([entry(PRODUCTS), entry(PRODUCTS)]).decode()
    async with httpx.AsyncClient(base_url=myshop_batching[0].url, timeout=30) as client:
        response = await client.get(
            "/graphql",
            params={"query": query},
            headers={"accept": "application/graphql-response+json", "apollo-require-preflight": "true"},
        )

    # A GET's query is one document's text: an array of requests does not parse as one.
    assert response.status_code == 400
    assert codes(response.json()) == ["GRAPHQL_PARSE_FAILED"]
