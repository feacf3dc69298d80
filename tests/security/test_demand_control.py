"""Issue 13's cost limit through a running router over MyShop's supergraph, every subgraph a recording
stand-in: 1,000 aliases of `products(first: 100)` are refused with COST_ESTIMATED_TOO_EXPENSIVE and no
subgraph is asked; in measure mode the same request runs, and `/metrics` shows its estimated and actual
cost."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import orjson
import pytest
from prometheus_client.parser import text_string_to_metric_families

from router.config import RouterConfig
from router.server import build_gateway, create_app
from shared.testing import ServerThread

REPO = Path(__file__).resolve().parents[2]
SUPERGRAPH = (REPO / "schema" / "supergraph.graphql").read_text()
SUBGRAPHS = ("users", "products", "orders", "payments", "inventory", "notifications", "analytics")
OPS_TOKEN = "cost-test-ops-token"  # /metrics asks for it where the router has an ops token (the HTTP edge)
# Issue 13's request: 35 KB in, 4.5 MB out before demand control.
ATTACK = "{" + " ".join(f"a{i}: products(first: 100) {{ nodes {{ id }} }}" for i in range(1000)) + "}"
NODES_PER_PAGE = 3  # what the stand-in answers for each page


class RecordingSubgraph:
    """Keeps every request's body; answers each `products` page of the query (by its response key) with
    three product ids."""

    def __init__(self) -> None:
        self.received: list[dict[str, Any]] = []

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] == "lifespan":
            while (await receive())["type"] != "lifespan.shutdown":
                await send({"type": "lifespan.startup.complete"})
            await send({"type": "lifespan.shutdown.complete"})
            return
        chunks = []
        while True:
            message = await receive()
            chunks.append(message.get("body", b""))
            if not message.get("more_body"):
                break
        body = orjson.loads(b"".join(chunks))
        self.received.append(body)
        page = {"nodes": [{"id": f"p{n}"} for n in range(NODES_PER_PAGE)]}
        keys = re.findall(r"(\w+)\s*:\s*products\b", body.get("query", "")) or ["products"]
        answer = orjson.dumps({"data": dict.fromkeys(keys, page)})
        headers = [(b"content-type", b"application/json"), (b"content-length", b"%d" % len(answer))]
        await send({"type": "http.response.start", "status": 200, "headers": headers})
        await send({"type": "http.response.body", "body": answer})


@pytest.fixture
def subgraph() -> Iterator[tuple[RecordingSubgraph, ServerThread]]:
    recorder = RecordingSubgraph()
    server = ServerThread(recorder).start()
    yield recorder, server
    server.stop()


def start_router(subgraph_url: str, mode: str) -> ServerThread:
    """A router as router.yaml configures demand control (in `mode`), every subgraph at `subgraph_url`. The
    query bounds' root-field and height limits (100 and 1,000 in router.yaml, which refuse this request
    first) are raised so that the cost limit is the one it meets."""
    demand_control = RouterConfig.load(REPO / "router.yaml").demand_control.model_copy(update={"mode": mode})
    config = RouterConfig(
        graphiql=False,
        subgraph_urls=dict.fromkeys(SUBGRAPHS, subgraph_url),
        demand_control=demand_control,
        max_root_fields=1000,
        max_height=10_000,
        ops={"token": OPS_TOKEN},
    )
    return ServerThread(create_app(build_gateway(SUPERGRAPH, config), config)).start()


@pytest.fixture
def router_in(subgraph: tuple[RecordingSubgraph, ServerThread]) -> Iterator[Any]:
    started: list[ServerThread] = []

    def start(mode: str) -> ServerThread:
        started.append(start_router(f"{subgraph[1].url}/graphql", mode))
        return started[-1]

    yield start
    for server in started:
        server.stop()


def ask(router: ServerThread, query: str) -> httpx.Response:
    return httpx.post(f"{router.url}/graphql", json={"query": query}, timeout=60)


def metrics(router: ServerThread) -> dict[tuple[str, frozenset[tuple[str, str]]], float]:
    text = httpx.get(f"{router.url}/metrics", headers={"authorization": f"Bearer {OPS_TOKEN}"}).text
    return {
        (sample.name, frozenset(sample.labels.items())): sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
    }


def sample(samples: dict[tuple[str, frozenset[tuple[str, str]]], float], name: str, **labels: str) -> float:
    return samples.get((name, frozenset({"service": "router", **labels}.items())), 0.0)


def test_a_thousand_aliases_of_a_full_page_are_refused_before_any_subgraph_is_asked(
    subgraph: tuple[RecordingSubgraph, ServerThread], router_in: Any
) -> None:
    recorder, _ = subgraph
    router = router_in("enforce")

    response = ask(router, ATTACK)

    error = response.json()["errors"][0]
    assert error["extensions"]["code"] == "COST_ESTIMATED_TOO_EXPENSIVE"
    assert error["extensions"]["cost.estimated"] == 1000 * (1 + 100)
    assert error["extensions"]["cost.max"] == 10_000
    assert "data" not in response.json()
    assert recorder.received == []
    samples = metrics(router)
    refused = {"result": "COST_ESTIMATED_TOO_EXPENSIVE"}
    assert sample(samples, "myshop_router_operation_cost_results_total", **refused) == 1
    assert sample(samples, "myshop_router_operation_cost_estimated_sum", **refused) == 101_000

    # A full page alone is well within the limit, and runs.
    page = ask(router, "{ products(first: 100) { nodes { id } } }")
    assert page.json()["data"]["products"]["nodes"][0] == {"id": "p0"}
    assert len(recorder.received) == 1


def test_in_measure_mode_it_runs_and_the_cost_metrics_show_it(
    subgraph: tuple[RecordingSubgraph, ServerThread], router_in: Any
) -> None:
    recorder, _ = subgraph
    router = router_in("measure")

    response = ask(router, ATTACK)

    assert response.status_code == 200
    data = response.json()["data"]
    assert len(data) == 1000 and data["a999"]["nodes"][2] == {"id": "p2"}
    assert len(recorder.received) == 1  # one fetch: the products subgraph's
    samples = metrics(router)
    over = {"result": "COST_ESTIMATED_TOO_EXPENSIVE"}
    assert sample(samples, "myshop_router_operation_cost_results_total", **over) == 1
    assert sample(samples, "myshop_router_operation_cost_estimated_sum", **over) == 101_000
    assert sample(samples, "myshop_router_operation_cost_estimated_bucket", le="100000.0", **over) == 0
    assert sample(samples, "myshop_router_operation_cost_estimated_bucket", le="1000000.0", **over) == 1
    # Actual: each of the 1,000 pages and the 3 products it held.
    assert sample(samples, "myshop_router_operation_cost_actual_count") == 1
    assert sample(samples, "myshop_router_operation_cost_actual_sum") == 1000 * (1 + NODES_PER_PAGE)
