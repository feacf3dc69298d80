"""A small graphql-transport-ws and SSE client for the router's subscription tests (aiohttp)."""

from __future__ import annotations

import asyncio
import time
from typing import Any

import aiohttp
import orjson

from shared.testing import ServerThread

PROTOCOL = "graphql-transport-ws"


def ws_url(server: ServerThread) -> str:
    return server.url.replace("http://", "ws://") + "/graphql"


async def connect(
    http: aiohttp.ClientSession, server: ServerThread, payload: dict[str, Any] | None = None
) -> aiohttp.ClientWebSocketResponse:
    ws = await http.ws_connect(ws_url(server), protocols=(PROTOCOL,))
    init: dict[str, Any] = {"type": "connection_init"}
    if payload is not None:
        init["payload"] = payload
    await ws.send_json(init)
    assert (await receive(ws))["type"] == "connection_ack"
    return ws


async def receive(ws: aiohttp.ClientWebSocketResponse, seconds: float = 5.0) -> dict[str, Any]:
    message = await ws.receive(timeout=seconds)
    assert message.type is aiohttp.WSMsgType.TEXT, (message.type, message.data, message.extra)
    return orjson.loads(message.data)  # type: ignore[no-any-return]


async def until_complete(
    ws: aiohttp.ClientWebSocketResponse, operation_id: str, seconds: float = 5.0
) -> list[dict[str, Any]]:
    """Every frame of the operation up to and including its `complete` or `error`."""
    frames = []
    while True:
        frame = await receive(ws, seconds)
        assert frame.get("id") == operation_id
        frames.append(frame)
        if frame["type"] in ("complete", "error"):
            return frames


async def close_code(ws: aiohttp.ClientWebSocketResponse, seconds: float = 5.0) -> int | None:
    """Reads until the server closes; the close code."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        message = await ws.receive(timeout=seconds)
        if message.type in (aiohttp.WSMsgType.CLOSE, aiohttp.WSMsgType.CLOSED, aiohttp.WSMsgType.CLOSING):
            return ws.close_code
    raise AssertionError("the server did not close the socket")


async def eventually(condition: Any, seconds: float = 5.0) -> None:
    deadline = time.monotonic() + seconds
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError("condition not reached in time")
        await asyncio.sleep(0.02)


def sse_events(text: str) -> list[tuple[str, str]]:
    events = []
    for block in text.split("\n\n"):
        fields = dict(
            line.split(": ", 1) if ": " in line else (line.rstrip(":"), "") for line in block.splitlines()
        )
        if "event" in fields:
            events.append((fields["event"], fields.get("data", "")))
    return events
