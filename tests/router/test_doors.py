"""Every door enters the same pipeline: an operation over HTTP, over SSE and over WebSocket passes the same
rate limit, the same size limit, the same persisted-query lookup and gets the same request span. Each test
runs once per door against a real router on loopback, over a stand-in subgraph answering `{ hello }`."""

from __future__ import annotations

import hashlib
import os
import uuid
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from typing import Any

import aiohttp
import httpx
import orjson
import pytest
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import SpanKind
from standin import StandIn, supergraph
from subscription_client import sse_events
from ws_client import GraphQLWebSocket, connect

from shared.telemetry import make_provider
from shared.testing import ServerThread

DOORS = ("http", "sse", "websocket")
HELLO = "query Hello { hello }"


@dataclass
class Answer:
    """What a door answered: the HTTP status (None over WebSocket, where a refusal is an `error` message)
    and the GraphQL body (`data` and/or `errors`)."""

    status: int | None
    body: dict[str, Any]

    @property
    def codes(self) -> list[str]:
        return [error["extensions"]["code"] for error in self.body.get("errors") or ()]


class DoorClient:
    """One client of one door; over WebSocket every operation goes on the same connection."""

    def __init__(self, door: str, router: ServerThread, http: aiohttp.ClientSession) -> None:
        self.door = door
        self.url = f"{router.url}/graphql"
        self.router = router
        self.http = http
        self.ws: GraphQLWebSocket | None = None
        self.operations = 0

    async def ask(self, params: dict[str, Any]) -> Answer:
        if self.door == "websocket":
            return await self._over_websocket(params)
        accept = "text/event-stream" if self.door == "sse" else "application/json"
        async with httpx.AsyncClient(timeout=10) as client:
            response = await client.post(
                self.url,
                content=orjson.dumps(params),
                headers={"content-type": "application/json", "accept": accept},
            )
        if response.headers["content-type"].startswith("text/event-stream"):
            events = sse_events(response.text)
            assert [event for event, _ in events] == ["next", "complete"], events
            return Answer(response.status_code, orjson.loads(events[0][1]))
        return Answer(response.status_code, response.json())

    async def _over_websocket(self, params: dict[str, Any]) -> Answer:
        if self.ws is None:
            self.ws = await connect(self.http, self.router)
        self.operations += 1
        operation_id = str(self.operations)
        await self.ws.send_str(
            orjson.dumps({"id": operation_id, "type": "subscribe", "payload": params}).decode()
        )
        frames = await self.ws.until_complete(operation_id)
        if frames[-1]["type"] == "error":
            return Answer(None, {"errors": frames[-1]["payload"]})
        assert [frame["type"] for frame in frames] == ["next", "complete"], frames
        return Answer(None, frames[0]["payload"])

    async def close(self) -> None:
        if self.ws is not None:
            await self.ws.close()


@pytest.fixture(scope="module")
def greetings() -> Iterator[str]:
    """The supergraph of one stand-in subgraph answering `{ hello: "world" }`."""
    server = ServerThread(StandIn({"hello": "world"})).start()
    yield supergraph([("greetings", server, "type Query { hello: String }")])
    server.stop()


@pytest.fixture
async def http() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession() as session:
        yield session


@pytest.fixture
async def serve(greetings: str, http: aiohttp.ClientSession, start_router: Any) -> AsyncIterator[Any]:
    """`await serve(door, **settings)`: a router with `settings` (`app_options` for create_app) and a client
    of `door` to it."""
    started: list[tuple[ServerThread, DoorClient]] = []

    async def serve(door: str, **settings: Any) -> DoorClient:
        router = start_router(greetings, **settings)
        client = DoorClient(door, router, http)
        started.append((router, client))
        return client

    yield serve
    for router, client in started:
        await client.close()
        router.stop()


@pytest.mark.parametrize("door", DOORS)
async def test_the_rate_limit_counts_every_operation_of_each_door(door: str, serve: Any) -> None:
    prefix = f"{os.environ['MYSHOP_REDIS_PREFIX']}doors-{uuid.uuid4().hex[:8]}:"
    rate_limit = {
        "enabled": True,
        "requests": 2,
        "window_seconds": 60,
        "redis_url": os.environ["MYSHOP_REDIS_URL"],
        "key_prefix": prefix,
    }
    client = await serve(door, rate_limit=rate_limit)

    allowed = [await client.ask({"query": HELLO}) for _ in range(2)]
    refused = await client.ask({"query": HELLO})

    assert [answer.body for answer in allowed] == [{"data": {"hello": "world"}}] * 2
    assert refused.codes == ["RATE_LIMITED"]
    assert refused.body["errors"][0]["extensions"]["retryAfter"] > 0
    assert refused.status == (None if door == "websocket" else 429)


@pytest.mark.parametrize("door", DOORS)
async def test_a_request_over_the_size_limit_is_refused_by_each_door(door: str, serve: Any) -> None:
    client = await serve(door, max_body_bytes=4096)

    too_large = await client.ask({"query": HELLO, "variables": {"pad": "x" * 8192}})
    small = await client.ask({"query": HELLO, "variables": {"pad": "x" * 1024}})

    assert too_large.codes == ["PAYLOAD_TOO_LARGE"]
    assert too_large.status == (None if door == "websocket" else 413)
    assert small.body == {"data": {"hello": "world"}}  # the door keeps serving (a WebSocket, its socket)


@pytest.mark.parametrize("door", DOORS)
async def test_each_door_looks_persisted_queries_up(door: str, serve: Any) -> None:
    client = await serve(door)
    query = f"query Hello{uuid.uuid4().hex[:6]} {{ hello }}"
    extensions = {"persistedQuery": {"version": 1, "sha256Hash": hashlib.sha256(query.encode()).hexdigest()}}

    unknown = await client.ask({"extensions": extensions})
    registered = await client.ask({"query": query, "extensions": extensions})
    by_hash = await client.ask({"extensions": extensions})

    assert unknown.codes == ["PERSISTED_QUERY_NOT_FOUND"]
    assert registered.body == by_hash.body == {"data": {"hello": "world"}}


@pytest.mark.parametrize("door", DOORS)
async def test_each_door_opens_the_request_span_its_fetches_hang_under(door: str, serve: Any) -> None:
    exporter = InMemorySpanExporter()
    provider = make_provider("router", SimpleSpanProcessor(exporter))
    client = await serve(door, app_options={"tracer_provider": provider})

    answer = await client.ask({"query": HELLO})

    assert answer.body == {"data": {"hello": "world"}}
    spans = exporter.get_finished_spans()
    [request] = [span for span in spans if span.kind is SpanKind.SERVER]
    [fetch] = [span for span in spans if span.kind is SpanKind.CLIENT]
    assert request.name == "query Hello"
    assert request.attributes is not None
    assert (request.attributes["graphql.operation.name"], request.attributes["myshop.outcome"]) == (
        "Hello",
        "ok",
    )
    assert fetch.parent is not None and fetch.parent.span_id == request.context.span_id
    assert fetch.attributes is not None and fetch.attributes["myshop.subgraph.name"] == "greetings"
