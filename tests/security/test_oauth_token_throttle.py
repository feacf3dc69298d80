"""users' `/oauth/token` (issue 13, item 5): guesses of the service secret are throttled per client address
and per client id, answered 429 `slow_down` with `Retry-After` in OAuth's error shape, the right secret
refused too while a limit holds (else the refusal tells a guesser when it hit); a service that knows the
secret never counts. Clients leave from real loopback addresses (127.0.0.x), which users does not trust as
routers.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest

from shared.app import create_subgraph_app
from shared.settings import DEV_SERVICE_SECRET
from shared.testing import ServerThread
from subgraphs.users.app import definition


@pytest.fixture
async def client_from() -> AsyncIterator[Any]:
    """`client_from(address)`: an HTTP client whose connections leave from that loopback address."""
    clients: dict[str, httpx.AsyncClient] = {}

    def make(address: str) -> httpx.AsyncClient:
        if address not in clients:
            transport = httpx.AsyncHTTPTransport(local_address=address)
            clients[address] = httpx.AsyncClient(transport=transport, timeout=30)
        return clients[address]

    yield make
    for client in clients.values():
        await client.aclose()


async def ask(api: Any, client: httpx.AsyncClient, service: str, secret: str) -> httpx.Response:
    return await client.post(
        f"{api.url('users')}/oauth/token", data={"grant_type": "client_credentials"}, auth=(service, secret)
    )


def assert_throttled(response: httpx.Response) -> None:
    assert response.status_code == 429, response.text
    assert response.json()["error"] == "slow_down"
    assert int(response.headers["retry-after"]) > 0


async def test_guesses_from_one_address_are_throttled(api: Any, client_from) -> None:
    limit = api.settings["users"].service_token_address_failures
    guesser = client_from("127.0.0.2")
    # Each guess names another service: only the address's limit can stop them all.
    services = ["orders", "products", "inventory", "payments", "notifications", "analytics"]
    guesses = [await ask(api, guesser, services[n % len(services)], f"guess-{n}") for n in range(limit)]

    over = await ask(api, guesser, "orders", "one more guess")
    right_secret = await ask(api, guesser, "orders", DEV_SERVICE_SECRET)
    elsewhere = await ask(api, client_from("127.0.0.3"), "orders", DEV_SERVICE_SECRET)

    assert [guess.status_code for guess in guesses] == [401] * limit
    assert_throttled(over)
    assert_throttled(right_secret)
    assert elsewhere.status_code == 200


async def test_guesses_spread_over_addresses_are_throttled_per_client_id(api: Any, client_from) -> None:
    settings = api.settings["users"]
    per_address, per_client = settings.service_token_address_failures, settings.service_token_client_failures
    addresses = [f"127.0.0.{10 + n}" for n in range(-(-per_client // per_address))]
    statuses = []
    for n in range(per_client):
        guesser = client_from(addresses[n // per_address])
        statuses.append((await ask(api, guesser, "orders", f"guess-{n}")).status_code)

    newcomer = client_from("127.0.0.3")
    orders = await ask(api, newcomer, "orders", DEV_SERVICE_SECRET)
    products = await ask(api, newcomer, "products", DEV_SERVICE_SECRET)

    assert statuses == [401] * per_client
    assert_throttled(orders)
    assert products.status_code == 200


async def test_a_service_with_the_right_secret_never_counts(api: Any, client_from) -> None:
    limit = api.settings["users"].service_token_address_failures
    service = client_from("127.0.0.2")

    tokens = [await ask(api, service, "orders", DEV_SERVICE_SECRET) for _ in range(limit + 5)]
    guesses = [await ask(api, service, "orders", f"guess-{n}") for n in range(limit)]

    assert [token.status_code for token in tokens] == [200] * (limit + 5)
    # Its successes left the whole budget for failures: exactly `limit` guesses before the refusal.
    assert [guess.status_code for guess in guesses] == [401] * limit
    assert_throttled(await ask(api, service, "orders", "one more guess"))


async def test_without_redis_services_still_get_tokens(api: Any, client_from) -> None:
    # Fail open: no Redis must not mean no service can call another.
    settings = api.settings["users"].model_copy(update={"redis_url": "redis://127.0.0.1:1/0"})
    server = await asyncio.to_thread(ServerThread(create_subgraph_app(definition, settings)).start)
    try:
        client = client_from("127.0.0.2")
        url = f"{server.url}/oauth/token"
        form = {"grant_type": "client_credentials"}
        right = await client.post(url, data=form, auth=("orders", DEV_SERVICE_SECRET))
        wrong = await client.post(url, data=form, auth=("orders", "guess"))
    finally:
        await asyncio.to_thread(server.stop)

    assert (right.status_code, wrong.status_code) == (200, 401)
