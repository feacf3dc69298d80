"""@defer through the doors (router/execution/incremental.py, router/http/incremental.py): the primary part
first, each deferred fragment as its own part (path, label, its own errors, hasNext) as multipart/mixed over
HTTP, one event per part over SSE, one `next` per part over WebSocket; a client that does not take multipart
gets the whole answer at once; Apollo Client 4 reads the parts. Stand-in subgraphs on loopback: products
(the list), reviews (the rating, 1 s slow), stock (down)."""

from __future__ import annotations

import asyncio
import shutil
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import orjson
import pytest
from standin import StandIn, supergraph
from subscription_client import sse_events
from ws_client import GraphQLWebSocket

from router.config import RouterConfig
from router.execution.incremental import IncrementalStream
from router.http.multipart import DEFER
from router.pipeline.cost import DemandControlConfig
from router.pipeline.gateway import Gateway
from router.pipeline.request import Door, GraphQLRequest
from router.server import create_app
from router.upstream.traffic_config import TrafficConfig
from shared.testing import ServerThread

REPO = Path(__file__).resolve().parents[2]
SCRIPT = Path(__file__).with_name("defer_client.mjs")
SLOW = 1.0
A_LITTLE = 0.3

PRODUCTS_SDL = """
type Query { products: [Product!]! }
type Product @key(fields: "id") { id: ID! name: String! }
"""
REVIEWS_SDL = 'type Product @key(fields: "id") { id: ID! rating: Int! stars: Int! score: Int! }'
STOCK_SDL = 'type Product @key(fields: "id") { id: ID! stock: Int }'
PRODUCTS = [
    {"__typename": "Product", "id": "1", "name": "Mug"},
    {"__typename": "Product", "id": "2", "name": "Pen"},
]
# `rating` is slow (the stand-in waits when a query names it; Apollo Client's test), `score` a little, `stars`
# not at all: most tests need no wait.
RATINGS = [
    {"__typename": "Product", "rating": 5, "stars": 4, "score": 9},
    {"__typename": "Product", "rating": 3, "stars": 2, "score": 7},
]

MULTIPART = "multipart/mixed;deferSpec=20220824,application/json"
DEFERRED = '{ products { name ... @defer(label: "ratings") { rating } } }'
FAST = '{ products { name ... @defer(label: "stars") { stars } } }'


@pytest.fixture(scope="module")
def composed() -> Iterator[str]:
    """The supergraph over the stand-ins (stock's URL: a port where nothing listens), which run meanwhile."""
    products = ServerThread(StandIn({"products": PRODUCTS})).start()
    reviews = ServerThread(StandIn({"_entities": RATINGS}, slow={"rating": SLOW, "score": A_LITTLE})).start()
    stock = ServerThread(StandIn({})).start()
    subgraphs = [("products", products, PRODUCTS_SDL), ("reviews", reviews, REVIEWS_SDL)]
    sdl = supergraph([*subgraphs, ("stock", stock, STOCK_SDL)])
    stock.stop()  # down: its deferred part answers with its own errors
    yield sdl
    for thread in (products, reviews):
        thread.stop()


@pytest.fixture(scope="module")
def router(composed: str) -> Iterator[ServerThread]:
    gateway = Gateway.from_supergraph(composed, subgraph_urls={"stock": "http://127.0.0.1:9/graphql"})
    server = ServerThread(create_app(gateway, RouterConfig(graphiql=False))).start()
    yield server
    server.stop()


def parts_of(body: bytes) -> list[dict[str, Any]]:
    """The JSON parts of a deferSpec multipart body (each after its delimiter and headers)."""
    assert body.endswith(DEFER.end())
    chunks = body[: -len(DEFER.end())].split(b"\r\n---\r\n")[1:]
    return [orjson.loads(chunk.split(b"\r\n\r\n", 1)[1]) for chunk in chunks]


async def timed_parts(
    url: str, query: str, variables: dict[str, Any] | None = None
) -> tuple[float, list[Any]]:
    """(seconds until the first part arrived, the parts) of a multipart answer."""
    started = time.perf_counter()
    first = None
    body = b""
    async with httpx.AsyncClient(timeout=10) as client:
        payload = {"query": query, "variables": variables or {}}
        async with client.stream(
            "POST", f"{url}/graphql", json=payload, headers={"accept": MULTIPART}
        ) as response:
            assert response.status_code == 200
            assert response.headers["content-type"] == 'multipart/mixed;boundary="-";deferSpec=20220824'
            async for chunk in response.aiter_bytes():
                if first is None:
                    first = time.perf_counter() - started
                body += chunk
    assert first is not None
    return first, parts_of(body)


async def test_http_multipart_sends_the_primary_part_at_once_and_the_deferred_one_when_ready(
    router: ServerThread,
) -> None:
    query = '{ products { name ... @defer(label: "score") { score } } }'
    await timed_parts(router.url, query)  # the first time pays for planning it
    started = time.perf_counter()
    first, parts = await timed_parts(router.url, query)

    assert first < A_LITTLE / 2
    assert time.perf_counter() - started >= A_LITTLE
    assert parts == [
        {"data": {"products": [{"name": "Mug"}, {"name": "Pen"}]}, "hasNext": True},
        {
            "incremental": [
                {"data": {"score": 9}, "path": ["products", 0], "label": "score"},
                {"data": {"score": 7}, "path": ["products", 1], "label": "score"},
            ],
            "hasNext": False,
        },
    ]


async def test_a_fragment_deferred_inside_a_deferred_one_is_a_part_after_it(router: ServerThread) -> None:
    query = '{ products { name ... @defer(label: "a") { stars ... @defer(label: "b") { score } } } }'
    _, parts = await timed_parts(router.url, query)

    assert [part["hasNext"] for part in parts] == [True, True, False]
    outer, inner = parts[1]["incremental"], parts[2]["incremental"]
    assert [(i["label"], i["path"], i["data"]) for i in outer] == [
        ("a", ["products", 0], {"stars": 4}),
        ("a", ["products", 1], {"stars": 2}),
    ]
    assert [(i["label"], i["path"], i["data"]) for i in inner] == [
        ("b", ["products", 0], {"score": 9}),
        ("b", ["products", 1], {"score": 7}),
    ]


async def test_a_client_without_multipart_gets_the_whole_answer_at_once(router: ServerThread) -> None:
    async with httpx.AsyncClient(timeout=10) as client:
        response = await client.post(f"{router.url}/graphql", json={"query": FAST})

    assert response.status_code == 200
    assert response.headers["content-type"].startswith("application/json")
    assert response.json() == {
        "data": {"products": [{"name": "Mug", "stars": 4}, {"name": "Pen", "stars": 2}]}
    }


async def test_a_deferred_part_whose_subgraph_is_down_carries_its_own_errors(router: ServerThread) -> None:
    query = "{ products { name ... @defer { stock } } }"
    _, parts = await timed_parts(router.url, query)

    assert parts[0] == {"data": {"products": [{"name": "Mug"}, {"name": "Pen"}]}, "hasNext": True}
    (items,) = [part["incremental"] for part in parts[1:]]
    assert [item["path"] for item in items] == [["products", 0], ["products", 1]]
    assert [item["data"] for item in items] == [{"stock": None}, {"stock": None}]
    codes = [e["extensions"]["code"] for item in items for e in item.get("errors", [])]
    assert codes and set(codes) == {"SUBREQUEST_HTTP_ERROR"}
    assert parts[-1]["hasNext"] is False


async def test_defer_if_false_is_answered_whole_even_to_a_multipart_client(router: ServerThread) -> None:
    query = "query($d: Boolean!) { products { name ... @defer(if: $d) { stars } } }"
    async with httpx.AsyncClient(timeout=10) as client:
        response = await client.post(
            f"{router.url}/graphql",
            json={"query": query, "variables": {"d": False}},
            headers={"accept": MULTIPART},
        )
        assert response.json() == {
            "data": {"products": [{"name": "Mug", "stars": 4}, {"name": "Pen", "stars": 2}]}
        }

    _, parts = await timed_parts(router.url, query, {"d": True})
    assert [part["hasNext"] for part in parts] == [True, False]


def test_an_operation_with_defer_is_priced_as_the_same_operation_without_it(composed: str) -> None:
    gateway = Gateway.from_supergraph(
        composed, demand_control=DemandControlConfig(enabled=True, list_size=10)
    )

    def estimate(query: str) -> float | None:
        request = GraphQLRequest(query)
        prepared, node = gateway._select(request)
        return gateway.cost.check(query, None, node, prepared.fragments, {})

    deferred = estimate(
        '{ products { name ... @defer(label: "l") { stars ...S @defer } } } fragment S on Product { score }'
    )
    assert deferred == estimate("{ products { name ... { stars ...S } } } fragment S on Product { score }")
    assert deferred is not None and deferred > 0


async def test_the_request_timeout_bounds_the_deferred_parts_too(composed: str) -> None:
    gateway = Gateway.from_supergraph(composed, traffic=TrafficConfig(request_timeout=A_LITTLE / 2))
    stream = await gateway.run(GraphQLRequest(DEFERRED, door=Door.SSE))
    assert isinstance(stream, IncrementalStream)
    try:
        parts = [part async for part in stream]
    finally:
        await stream.aclose()
        await gateway.close()

    assert parts[0] == {"data": {"products": [{"name": "Mug"}, {"name": "Pen"}]}, "hasNext": True}
    items = parts[1]["incremental"]
    assert [item["data"] for item in items] == [None, None]  # rating is non-null: the item's data is null
    assert [e["extensions"]["code"] for e in items[0]["errors"]][:1] == ["GATEWAY_TIMEOUT"]
    assert parts[1]["hasNext"] is False


async def test_sse_sends_one_event_per_part(router: ServerThread) -> None:
    async with httpx.AsyncClient(timeout=10) as client:
        response = await client.post(
            f"{router.url}/graphql", json={"query": FAST}, headers={"accept": "text/event-stream"}
        )

    events = sse_events(response.text)
    assert [name for name, _ in events] == ["next", "next", "complete"]
    first, second = (orjson.loads(data) for _, data in events[:2])
    assert first == {"data": {"products": [{"name": "Mug"}, {"name": "Pen"}]}, "hasNext": True}
    assert [item["data"] for item in second["incremental"]] == [{"stars": 4}, {"stars": 2}]
    assert second["hasNext"] is False


async def test_websocket_sends_one_next_per_part_then_complete(router: ServerThread) -> None:
    async with GraphQLWebSocket(router) as ws:
        await ws.send_json({"id": "1", "type": "subscribe", "payload": {"query": FAST}})
        messages = await ws.until_complete("1")

    assert [m["type"] for m in messages] == ["next", "next", "complete"]
    assert messages[0]["payload"]["hasNext"] is True
    assert messages[1]["payload"]["incremental"][1] == {
        "data": {"stars": 2},
        "path": ["products", 1],
        "label": "stars",
    }
    assert messages[1]["payload"]["hasNext"] is False


@pytest.mark.skipif(
    not shutil.which("node") or not (REPO / "node_modules" / "@apollo" / "client").exists(),
    reason="needs node and `npm ci` (@apollo/client)",
)
async def test_apollo_client_gets_the_primary_part_first_then_the_deferred_one(router: ServerThread) -> None:
    ran = await asyncio.to_thread(
        subprocess.run,
        ["node", str(SCRIPT), f"{router.url}/graphql"],
        capture_output=True,
        text=True,
        timeout=30,
        cwd=REPO,
    )
    assert ran.returncode == 0, ran.stderr
    results = orjson.loads(ran.stdout.strip().splitlines()[-1])["results"]

    first, last = results[0], results[-1]
    assert first["ms"] < 200
    assert first["dataState"] == "streaming"
    assert [p["name"] for p in first["data"]["products"]] == ["Mug", "Pen"]
    # After the primary part by most of the stand-in's second (the script's warm-up run may have started the
    # same slow fetch already, which the router's subgraph deduplication then shares).
    assert last["ms"] - first["ms"] >= SLOW * 500
    assert last["dataState"] == "complete"
    assert [(p["name"], p["rating"]) for p in last["data"]["products"]] == [("Mug", 5), ("Pen", 3)]
