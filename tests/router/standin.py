"""A stand-in subgraph for router tests: a real HTTP server that answers every query with fixed data, keeps
each request it got (headers and body), can be slow on purpose; and a supergraph composed over stand-ins."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import orjson

from shared.composition import compose
from shared.testing import ServerThread

REPO = Path(__file__).resolve().parents[2]
FEDERATION = 'extend schema @link(url: "https://specs.apollo.dev/federation/v2.3", import: ["@key"])\n'


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
        body = orjson.loads(b"".join(chunks) or b"{}")
        headers = {key.decode("latin-1"): value.decode("latin-1") for key, value in scope["headers"]}
        self.received.append(Received(headers, body))
        for name, seconds in self.slow.items():
            if name in body.get("query", ""):
                await asyncio.sleep(seconds)
        payload = orjson.dumps({"data": self.data})
        await send(
            {
                "type": "http.response.start",
                "status": 200,
                "headers": [
                    (b"content-type", b"application/json"),
                    (b"content-length", b"%d" % len(payload)),
                ],
            }
        )
        await send({"type": "http.response.body", "body": payload})


def supergraph(subgraphs: Sequence[tuple[str, ServerThread, str]]) -> str:
    """The supergraph of `(name, server, sdl)` stand-ins (composed by @apollo/composition)."""
    return compose(
        [(name, f"{server.url}/graphql", FEDERATION + sdl) for name, server, sdl in subgraphs], repo_root=REPO
    )
