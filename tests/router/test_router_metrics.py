"""The router's GraphQL metrics on `/metrics`: operations by type and outcome, errors by code, request and
subgraph fetch latencies, fetch errors by subgraph and code, and plan-cache hits and misses. The router runs
over MyShop's supergraph against a stand-in subgraph with canned answers (a closed port for a dead one)."""

from __future__ import annotations

import re
import socket
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import orjson
import pytest
from edge_headers import OPS
from prometheus_client.parser import text_string_to_metric_families
from standin import read_request, respond

from router.config import RouterConfig
from router.server import build_gateway, create_app
from shared.testing import ServerThread

SUPERGRAPH = (Path(__file__).resolve().parents[2] / "schema" / "supergraph.graphql").read_text()
NAMES = ("users", "products", "orders", "payments", "inventory", "notifications", "analytics", "shipping")
TOTAL = "query Total { products(first: 1) { totalCount } }"
ME = "{ me { id } }"


async def canned_subgraph(scope: Any, receive: Any, send: Any) -> None:
    """`me` answers UNAUTHENTICATED (as users does for an anonymous caller), `product` a product, anything
    else `products`."""
    body = await read_request(scope, receive, send)
    if body is None:
        return
    if re.search(rb"\bme\b", body):
        answer = {
            "data": {"me": None},
            "errors": [{"message": "sign in", "extensions": {"code": "UNAUTHENTICATED"}}],
        }
    elif b"product(" in body:
        answer = {"data": {"product": {"__typename": "Product", "id": "p1"}}}
    else:
        answer = {"data": {"products": {"totalCount": 1}}}
    await respond(send, orjson.dumps(answer))


def closed_port_url() -> str:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return f"http://127.0.0.1:{sock.getsockname()[1]}/graphql"


@pytest.fixture(scope="module")
def subgraph() -> Iterator[ServerThread]:
    server = ServerThread(canned_subgraph).start()
    yield server
    server.stop()


@pytest.fixture
def router(subgraph: ServerThread, start_router: Any) -> Iterator[ServerThread]:
    """A fresh router per test (its counters start at zero); `inventory` is down."""
    urls = {name: f"{subgraph.url}/graphql" for name in NAMES}
    urls["inventory"] = closed_port_url()
    server = start_router(SUPERGRAPH, subgraph_urls=urls)
    yield server
    server.stop()


async def ask(router: ServerThread, query: str) -> dict[str, Any]:
    async with httpx.AsyncClient(timeout=30) as client:
        response = await client.post(f"{router.url}/graphql", json={"query": query})
    return response.json()


async def scrape(router: ServerThread) -> dict[tuple[str, frozenset[tuple[str, str]]], float]:
    """Every sample of `/metrics` by (name, labels)."""
    async with httpx.AsyncClient(timeout=30) as client:
        text = (await client.get(f"{router.url}/metrics", headers=OPS)).text
    return {
        (sample.name, frozenset(sample.labels.items())): sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
    }


def sample(samples: dict[tuple[str, frozenset[tuple[str, str]]], float], name: str, **labels: str) -> float:
    return samples.get((name, frozenset({"service": "router", **labels}.items())), 0.0)


async def test_operations_are_counted_by_type_and_outcome(router: ServerThread) -> None:
    await ask(router, TOTAL)
    await ask(router, TOTAL)
    await ask(router, ME)
    await ask(router, "{ nope }")

    samples = await scrape(router)

    operations = "myshop_graphql_operations_total"
    assert sample(samples, operations, operation_type="query", outcome="ok") == 2
    assert sample(samples, operations, operation_type="query", outcome="error") == 1
    assert sample(samples, operations, operation_type="unknown", outcome="rejected") == 1


async def test_errors_are_counted_by_code(router: ServerThread) -> None:
    await ask(router, ME)
    await ask(router, "{ nope }")
    await ask(router, "{")

    samples = await scrape(router)

    errors = "myshop_graphql_errors_total"
    assert sample(samples, errors, code="UNAUTHENTICATED") == 1
    assert sample(samples, errors, code="GRAPHQL_VALIDATION_FAILED") == 1
    assert sample(samples, errors, code="GRAPHQL_PARSE_FAILED") == 1


async def test_request_latency_is_a_histogram_by_operation_type(router: ServerThread) -> None:
    await ask(router, TOTAL)
    await ask(router, "mutation { logout }")

    samples = await scrape(router)

    histogram = "myshop_graphql_request_duration_seconds"
    assert sample(samples, f"{histogram}_count", operation_type="query") == 1
    assert sample(samples, f"{histogram}_bucket", operation_type="query", le="+Inf") == 1
    assert sample(samples, f"{histogram}_count", operation_type="mutation") == 1
    assert 0 < sample(samples, f"{histogram}_sum", operation_type="query") < 5


async def test_fetch_latency_is_a_histogram_per_subgraph(router: ServerThread) -> None:
    await ask(router, TOTAL)
    await ask(router, ME)
    await ask(router, ME)

    samples = await scrape(router)

    histogram = "myshop_subgraph_fetch_duration_seconds"
    assert sample(samples, f"{histogram}_count", subgraph="products") == 1
    assert sample(samples, f"{histogram}_count", subgraph="users") == 2
    assert sample(samples, f"{histogram}_bucket", subgraph="users", le="+Inf") == 2


async def test_fetch_errors_are_counted_by_subgraph_and_code(router: ServerThread) -> None:
    await ask(router, ME)
    answer = await ask(router, '{ product(id: "p1") { id inStock } }')

    samples = await scrape(router)

    errors = "myshop_subgraph_fetch_errors_total"
    assert sample(samples, errors, subgraph="users", code="UNAUTHENTICATED") == 1
    assert answer["errors"][0]["extensions"]["code"] == "SUBREQUEST_HTTP_ERROR", answer
    assert sample(samples, errors, subgraph="inventory", code="SUBREQUEST_HTTP_ERROR") == 1


async def test_plan_cache_hits_and_misses_are_counted(router: ServerThread) -> None:
    await ask(router, TOTAL)
    await ask(router, TOTAL)
    await ask(router, TOTAL)
    await ask(router, ME)

    samples = await scrape(router)

    lookups = "myshop_router_plan_cache_lookups_total"
    assert sample(samples, lookups, result="miss") == 2
    assert sample(samples, lookups, result="hit") == 2


async def test_a_gauge_added_through_the_hook_is_read_at_each_scrape(subgraph: ServerThread) -> None:
    config = RouterConfig(graphiql=False, subgraph_urls={name: f"{subgraph.url}/graphql" for name in NAMES})
    app = create_app(build_gateway(SUPERGRAPH, config), config)
    open_now = [3]
    app.telemetry.metrics.add_gauge("myshop_test_open_things", "Things open now.", lambda: open_now[0])
    server = ServerThread(app).start()
    try:
        first = await scrape(server)
        open_now[0] = 1
        second = await scrape(server)
    finally:
        server.stop()

    assert sample(first, "myshop_test_open_things") == 3
    assert sample(second, "myshop_test_open_things") == 1
