"""A stand-in subgraph for router tests: a real HTTP server that answers every query with fixed data, keeps
each request it got (headers and body), can be slow on purpose; a supergraph composed over stand-ins; and the
base of stand-in gateways (the pipeline's ServedGateway without a supergraph)."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import orjson
from prometheus_client import CollectorRegistry

from router.ops.telemetry import RouterTelemetry
from router.pipeline.request import GraphQLRequest
from shared.composition import compose
from shared.testing import ServerThread

REPO = Path(__file__).resolve().parents[2]
FEDERATION = 'extend schema @link(url: "https://specs.apollo.dev/federation/v2.3", import: ["@key"])\n'


async def read_request(scope: dict[str, Any], receive: Any, send: Any) -> bytes | None:
    """The body of an HTTP request to an ASGI stand-in; None for other scopes (lifespan is answered here)."""
    if scope["type"] == "lifespan":
        while (await receive())["type"] != "lifespan.shutdown":
            await send({"type": "lifespan.startup.complete"})
        await send({"type": "lifespan.shutdown.complete"})
        return None
    if scope["type"] != "http":
        return None
    chunks = []
    while True:
        message = await receive()
        chunks.append(message.get("body", b""))
        if not message.get("more_body"):
            return b"".join(chunks)


async def respond(
    send: Any, body: bytes, *, status: int = 200, content_type: bytes = b"application/json"
) -> None:
    headers = [(b"content-type", content_type), (b"content-length", b"%d" % len(body))]
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})


def request_headers(scope: dict[str, Any]) -> dict[str, str]:
    return {key.decode("latin-1"): value.decode("latin-1") for key, value in scope["headers"]}


@dataclass
class Received:
    headers: dict[str, str]
    body: dict[str, Any]


@dataclass
class StandIn:
    """Answers `{"data": data}`; a query naming a field of `slow` waits that many seconds first."""

    data: dict[str, Any]
    slow: dict[str, float] = field(default_factory=dict)
    received: list[Received] = field(default_factory=list)

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        raw = await read_request(scope, receive, send)
        if raw is None:
            return
        body = orjson.loads(raw or b"{}")
        self.received.append(Received(request_headers(scope), body))
        for name, seconds in self.slow.items():
            if name in body.get("query", ""):
                await asyncio.sleep(seconds)
        await respond(send, orjson.dumps({"data": self.data}))


def supergraph(subgraphs: Sequence[tuple[str, ServerThread, str]]) -> str:
    """The supergraph of `(name, server, sdl)` stand-ins (composed by @apollo/composition)."""
    return compose(
        [(name, f"{server.url}/graphql", FEDERATION + sdl) for name, server, sdl in subgraphs], repo_root=REPO
    )


class GatewayStandIn:
    """A gateway for tests of the doors: `answer` gives a request's response (or raises RequestError)."""

    def __init__(self, subgraphs: dict[str, str] | None = None) -> None:
        self.subgraphs = dict(subgraphs or {})
        self.closed = False

    async def run(self, request: GraphQLRequest) -> dict[str, Any]:
        return await self.answer(request)

    async def answer(self, request: GraphQLRequest) -> dict[str, Any]:
        raise NotImplementedError

    def register_metrics(self, registry: CollectorRegistry) -> None:
        pass

    def attach_telemetry(self, telemetry: RouterTelemetry) -> None:
        pass

    async def close(self) -> None:
        self.closed = True
