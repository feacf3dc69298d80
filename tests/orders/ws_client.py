"""A small graphql-transport-ws client for the subscription tests (the `websockets` package)."""

from __future__ import annotations

import asyncio
import itertools
from typing import Any

import orjson
from websockets.asyncio.client import ClientConnection, connect


class GraphQLWebSocket:
    """One connection: `connection_init` (with the token, as the router sends it), then operations."""

    def __init__(
        self,
        url: str,
        *,
        token: str | None = None,
        payload: dict[str, Any] | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        self.url = url.replace("http://", "ws://", 1) + "/graphql"
        self.payload = (
            payload if payload is not None else ({"Authorization": f"Bearer {token}"} if token else {})
        )
        self.headers = headers or {}
        self.ws: ClientConnection | None = None
        self._ids = itertools.count(1)

    async def __aenter__(self) -> GraphQLWebSocket:
        self.ws = await connect(
            self.url, subprotocols=["graphql-transport-ws"], additional_headers=self.headers, open_timeout=10
        )
        await self.send({"type": "connection_init", "payload": self.payload})
        ack = await self.receive()
        assert ack["type"] == "connection_ack", ack
        return self

    async def __aexit__(self, *exc: object) -> None:
        assert self.ws is not None
        await self.ws.close()

    async def send(self, message: dict[str, Any]) -> None:
        assert self.ws is not None
        await self.ws.send(orjson.dumps(message).decode())

    async def receive(self, seconds: float = 15.0) -> dict[str, Any]:
        assert self.ws is not None
        while True:
            message = orjson.loads(await asyncio.wait_for(self.ws.recv(), seconds))
            if message.get("type") == "ping":
                await self.send({"type": "pong"})
                continue
            return message

    async def subscribe(self, query: str, variables: dict[str, Any] | None = None) -> str:
        operation_id = str(next(self._ids))
        await self.send(
            {
                "id": operation_id,
                "type": "subscribe",
                "payload": {"query": query, "variables": variables or {}},
            }
        )
        return operation_id

    async def until_complete(self, seconds: float = 20.0) -> list[dict[str, Any]]:
        """Every message up to and including `complete` or `error`."""
        messages = []
        while True:
            message = await self.receive(seconds)
            messages.append(message)
            if message["type"] in ("complete", "error"):
                return messages

    async def next_payloads(self, count: int, seconds: float = 20.0) -> list[dict[str, Any]]:
        """The payloads of the next `count` `next` messages (anything else fails the test)."""
        payloads = []
        while len(payloads) < count:
            message = await self.receive(seconds)
            assert message["type"] == "next", message
            payloads.append(message["payload"])
        return payloads


def codes(message: dict[str, Any]) -> list[str | None]:
    """The `extensions.code`s of an `error` message or of a `next` message's errors."""
    if message["type"] == "complete":
        return []
    errors = message["payload"] if message["type"] == "error" else message["payload"].get("errors") or []
    return [(error.get("extensions") or {}).get("code") for error in errors]
