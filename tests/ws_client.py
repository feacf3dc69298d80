"""The suite's one graphql-transport-ws client (aiohttp), for the subgraphs' and the router's subscriptions.

`async with GraphQLWebSocket(url, token=...) as ws` opens a connection with its own HTTP session, sends
`connection_init` (with the token, as the router forwards it) and waits for the ack;
`await connect(http, server)` does the same on a session of the test's. `init=False` leaves the handshake to
the test (the protocol tests).
"""

from __future__ import annotations

import asyncio
import itertools
from typing import Any

import aiohttp
import orjson

PROTOCOL = "graphql-transport-ws"
CLOSED = (aiohttp.WSMsgType.CLOSE, aiohttp.WSMsgType.CLOSED, aiohttp.WSMsgType.CLOSING)


def ws_url(target: Any) -> str:
    """The WebSocket URL of a server (anything with a `url`) or of an http:// base URL."""
    return str(getattr(target, "url", target)).replace("http://", "ws://", 1) + "/graphql"


class GraphQLWebSocket:
    """One graphql-transport-ws connection."""

    def __init__(
        self,
        target: Any,
        *,
        token: str | None = None,
        payload: dict[str, Any] | None = None,
        headers: dict[str, str] | None = None,
        init: bool = True,
        subprotocol: str = PROTOCOL,
        http: aiohttp.ClientSession | None = None,
    ) -> None:
        self.url = ws_url(target)
        if payload is None and token is not None:
            payload = {"Authorization": f"Bearer {token}"}
        self.payload = payload
        self.headers = headers or {}
        self.init = init
        self.subprotocol = subprotocol
        self.http = http
        self._own_http: aiohttp.ClientSession | None = None
        self.raw: aiohttp.ClientWebSocketResponse | None = None
        self._ids = itertools.count(1)

    async def open(self) -> GraphQLWebSocket:
        if self.http is None:
            self.http = self._own_http = aiohttp.ClientSession()
        try:
            protocols = (self.subprotocol,)
            self.raw = await self.http.ws_connect(self.url, protocols=protocols, headers=self.headers)
            if self.init:
                message: dict[str, Any] = {"type": "connection_init"}
                if self.payload is not None:
                    message["payload"] = self.payload
                await self.send_json(message)
                ack = await self.receive()
                assert ack["type"] == "connection_ack", ack
        except BaseException:
            await self.close()
            raise
        return self

    async def __aenter__(self) -> GraphQLWebSocket:
        return await self.open()

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    async def close(self) -> None:
        if self.raw is not None:
            await self.raw.close()
        if self._own_http is not None:
            await self._own_http.close()
            self._own_http = None

    # --- frames ---

    async def send_json(self, message: dict[str, Any]) -> None:
        await self.send_str(orjson.dumps(message).decode())

    async def send_str(self, text: str) -> None:
        assert self.raw is not None, "open() first"
        await self.raw.send_str(text)

    async def receive(self, seconds: float = 15.0) -> dict[str, Any]:
        """The next message (a server `ping` is answered with `pong` and skipped)."""
        assert self.raw is not None, "open() first"
        while True:
            frame = await self.raw.receive(timeout=seconds)
            assert frame.type is aiohttp.WSMsgType.TEXT, (frame.type, frame.data, frame.extra)
            message: dict[str, Any] = orjson.loads(frame.data)
            if message.get("type") == "ping":
                await self.send_json({"type": "pong"})
                continue
            return message

    async def close_code(self, seconds: float = 5.0) -> int | None:
        """Reads until the server closes the socket; its close code."""
        assert self.raw is not None, "open() first"
        async with asyncio.timeout(seconds):
            while (await self.raw.receive()).type not in CLOSED:
                pass
        return self.raw.close_code

    # --- operations ---

    async def subscribe(
        self, query: str, variables: dict[str, Any] | None = None, *, id: str | None = None
    ) -> str:
        operation_id = id or str(next(self._ids))
        payload = {"query": query, "variables": variables or {}}
        await self.send_json({"id": operation_id, "type": "subscribe", "payload": payload})
        return operation_id

    async def until_complete(self, id: str | None = None, seconds: float = 20.0) -> list[dict[str, Any]]:
        """Every message up to and including `complete` or `error` (all of operation `id`, when given)."""
        messages = []
        while True:
            message = await self.receive(seconds)
            if id is not None:
                assert message.get("id") == id, message
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


async def connect(
    http: aiohttp.ClientSession, target: Any, payload: dict[str, Any] | None = None, **options: Any
) -> GraphQLWebSocket:
    """A connection on the test's HTTP session to a server (or base URL), `connection_init` sent and acked."""
    return await GraphQLWebSocket(target, payload=payload, http=http, **options).open()


def codes(message: dict[str, Any]) -> list[str | None]:
    """The `extensions.code`s of an `error` message or of a `next` message's errors."""
    if message["type"] == "complete":
        return []
    errors = message["payload"] if message["type"] == "error" else message["payload"].get("errors") or []
    return [(error.get("extensions") or {}).get("code") for error in errors]
