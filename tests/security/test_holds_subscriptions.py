"""graphql-transport-ws protocol violations against the router over MyShop's supergraph close the socket
with the protocol's codes (issue 13: these already held; they must keep holding).
tests/router/test_subscriptions.py checks the same codes on a router over stand-in subgraphs; here the
subscription is MyShop's own (`orderUpdates`, served by the real orders subgraph), and the router serves the
next client after each."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import pytest
from ws_client import GraphQLWebSocket, connect

from shared.testing import ServerThread

UPDATES = "subscription { orderUpdates { cursor status } }"


@pytest.fixture
async def http() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession() as session:
        yield session


@pytest.fixture
def admin(issuer: Any) -> dict[str, str]:
    return {"Authorization": f"Bearer {issuer.issue(str(uuid.uuid4()), ['ADMIN']).token}"}


def subscribe(operation_id: str = "1") -> dict[str, Any]:
    return {"id": operation_id, "type": "subscribe", "payload": {"query": UPDATES}}


async def violate(http: aiohttp.ClientSession, router: ServerThread, admin: dict[str, str], case: str) -> int:
    """The close code the router answers `case` with."""
    if case == "subscribe before connection_init":
        ws = await connect(http, router, init=False)
        await ws.send_json(subscribe())
    elif case == "second connection_init":
        ws = await connect(http, router, admin)
        await ws.send_json({"type": "connection_init", "payload": admin})
    elif case == "an id already subscribed":
        ws = await connect(http, router, admin)
        await ws.send_json(subscribe("same"))
        await ws.send_json(subscribe("same"))
    else:
        ws = await connect(http, router, admin)
        await ws.send_str(case)
    code = await ws.close_code()
    assert code is not None
    return code


@pytest.mark.parametrize(
    ("case", "code"),
    [
        ("subscribe before connection_init", 4401),
        ("second connection_init", 4429),
        ("an id already subscribed", 4409),
        ('{"type": "no-such-message", "id": "1"}', 4400),
        ("not json", 4400),
        ('{"type": "subscribe", "id": "1"}', 4400),
    ],
)
async def test_a_protocol_violation_closes_the_socket_with_its_code(
    router: ServerThread, api: Any, http: aiohttp.ClientSession, admin: dict[str, str], case: str, code: int
) -> None:
    assert await violate(http, router, admin, case) == code

    # and the router serves the next client: a well-behaved subscription is acknowledged and runs
    async with GraphQLWebSocket(router, payload=admin) as ws:
        await ws.subscribe(UPDATES, id="next")
        await ws.send_json({"id": "next", "type": "complete"})
        await ws.send_json({"type": "ping"})
        assert await ws.receive() == {"type": "pong"}
