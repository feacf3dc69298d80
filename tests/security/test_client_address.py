"""Honest client addresses (issue 13): users' per-address login limit counts the address the router computed,
over real loopback source addresses (127.0.0.2 and 127.0.0.3 are the router's clients; the router itself calls
users from 127.0.0.1, which users trusts). A client rotating `X-Forwarded-For` is still one address; two
clients without the header are two; a trusted proxy's header is believed and anyone else's is not, at the HTTP
and the WebSocket door alike.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import aiohttp
import httpx
import pytest
from redis.asyncio import Redis
from ws_client import GraphQLWebSocket, codes

from router.config import RouterConfig
from router.server import build_gateway, create_app
from shared.testing import ServerThread

SUPERGRAPH = (Path(__file__).resolve().parents[2] / "schema" / "supergraph.graphql").read_text()
LOGIN = """mutation($email: String!, $password: String!) {
  login(email: $email, password: $password) { accessToken }
}"""
CLIENT_A, CLIENT_B, PROXY = "127.0.0.2", "127.0.0.3", "127.0.0.4"


def _router(stack: Any, **config: Any) -> ServerThread:
    """The router over MyShop's supergraph and the test stack, on 127.0.0.1."""
    urls = {name: f"{server.url}/graphql" for name, server in stack.servers.items()}
    settings = RouterConfig(graphiql=False, subgraph_urls=urls, hot_reload=False, **config)
    return ServerThread(create_app(build_gateway(SUPERGRAPH, settings), settings)).start()


@pytest.fixture(scope="module")
def router(stack: Any) -> Iterator[ServerThread]:
    """A router with no proxy in front: its TCP peer is the client."""
    server = _router(stack)
    yield server
    server.stop()


@pytest.fixture(scope="module")
def proxied_router(stack: Any) -> Iterator[ServerThread]:
    """A router behind a load balancer at PROXY: that peer's `X-Forwarded-For` names the client."""
    server = _router(stack, trusted_proxies=[PROXY])
    yield server
    server.stop()


@pytest.fixture
async def client_from() -> AsyncIterator[Any]:
    """`client_from(address)`: an HTTP client whose connections leave from that loopback address."""
    clients: list[httpx.AsyncClient] = []

    def make(address: str) -> httpx.AsyncClient:
        transport = httpx.AsyncHTTPTransport(local_address=address)
        clients.append(httpx.AsyncClient(transport=transport, timeout=30))
        return clients[-1]

    yield make
    for client in clients:
        await client.aclose()


async def login(client: httpx.AsyncClient, server: str, n: int, **headers: str) -> list[Any]:
    """The error codes of a failed login as account `n` at `server` (a base URL). Each `n` is its own account,
    below the per-account limit: only the address limit can refuse it."""
    variables = {"email": f"stuffing{n}@example.com", "password": "leaked password"}
    response = await client.post(
        f"{server}/graphql", json={"query": LOGIN, "variables": variables}, headers=headers
    )
    assert response.status_code == 200, response.text
    return [(error.get("extensions") or {}).get("code") for error in response.json().get("errors") or []]


async def counted(redis: Redis, api: Any, address: str) -> int:
    """How many logins users has counted against `address`."""
    key = f"{api.settings['users'].redis_prefix}ratelimit:users:login:address:{address}"
    value = await redis.get(key)
    return int(value) if value is not None else 0


async def test_rotating_forwarded_for_is_limited_like_one_address(
    api: Any, router: ServerThread, client_from
) -> None:
    limit = api.settings["users"].login_address_attempts
    client = client_from(CLIENT_A)

    answers = [
        await login(client, router.url, n, **{"X-Forwarded-For": f"198.51.100.{n}"}) for n in range(30)
    ]

    assert answers[:limit] == [["UNAUTHENTICATED"]] * limit
    assert answers[limit:] == [["RATE_LIMITED"]] * (30 - limit)


async def test_two_clients_without_the_header_have_a_bucket_each(
    api: Any, router: ServerThread, client_from, redis: Redis
) -> None:
    limit = api.settings["users"].login_address_attempts
    first, second = client_from(CLIENT_A), client_from(CLIENT_B)
    for n in range(limit):
        await login(first, router.url, n)

    assert await login(first, router.url, limit) == ["RATE_LIMITED"]
    assert await login(second, router.url, limit + 1) == ["UNAUTHENTICATED"]
    assert (await counted(redis, api, CLIENT_A), await counted(redis, api, CLIENT_B)) == (limit + 1, 1)


async def test_a_trusted_proxys_forwarded_for_is_believed(
    api: Any, proxied_router: ServerThread, client_from, redis: Redis
) -> None:
    # The proxy appends the peer it saw (203.0.113.7) to what its client sent (a forged 192.0.2.1).
    await login(client_from(PROXY), proxied_router.url, 1, **{"X-Forwarded-For": "192.0.2.1, 203.0.113.7"})

    assert await counted(redis, api, "203.0.113.7") == 1
    assert await counted(redis, api, "192.0.2.1") == 0
    assert await counted(redis, api, PROXY) == 0


async def test_an_untrusted_peers_forwarded_for_is_not(
    api: Any, proxied_router: ServerThread, client_from, redis: Redis
) -> None:
    await login(client_from(CLIENT_A), proxied_router.url, 1, **{"X-Forwarded-For": "203.0.113.8"})

    assert await counted(redis, api, CLIENT_A) == 1
    assert await counted(redis, api, "203.0.113.8") == 0


async def test_the_websocket_door_sends_the_address_it_computed(
    api: Any, proxied_router: ServerThread, redis: Redis
) -> None:
    connector = aiohttp.TCPConnector(local_addr=(CLIENT_B, 0))
    async with aiohttp.ClientSession(connector=connector) as http:
        headers = {"X-Forwarded-For": "203.0.113.9"}  # from an untrusted peer: ignored
        async with GraphQLWebSocket(proxied_router, http=http, headers=headers) as ws:
            variables = {"email": "socket@example.com", "password": "leaked password"}
            operation = await ws.subscribe(LOGIN, variables)
            messages = await ws.until_complete(operation)

    assert codes(messages[0]) == ["UNAUTHENTICATED"]
    assert await counted(redis, api, CLIENT_B) == 1
    assert await counted(redis, api, "203.0.113.9") == 0


async def test_users_believes_forwarded_for_only_from_a_trusted_router(
    api: Any, client_from, redis: Redis
) -> None:
    # users trusts MYSHOP_TRUSTED_ROUTERS (loopback 127.0.0.1 and ::1 by default), not any other caller.
    direct = api.url("users")
    await login(client_from(CLIENT_A), direct, 1, **{"X-Forwarded-For": "203.0.113.11"})
    await login(client_from("127.0.0.1"), direct, 2, **{"X-Forwarded-For": "203.0.113.12"})

    assert await counted(redis, api, CLIENT_A) == 1
    assert await counted(redis, api, "203.0.113.11") == 0
    assert await counted(redis, api, "203.0.113.12") == 1
