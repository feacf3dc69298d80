"""Login throttling over real client addresses (issue 14): 100 wrong passwords from one loopback address
(127.0.0.2) through the router never stop the right password from another (127.0.0.3), and the first address
is slowed down, with `retryAfter` in the refusals' extensions.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from router.config import RouterConfig
from router.server import build_gateway, create_app
from shared.testing import ServerThread

SUPERGRAPH = (Path(__file__).resolve().parents[2] / "schema" / "supergraph.graphql").read_text()
REGISTER = "mutation($i: RegisterInput!) { register(input: $i) { email } }"
LOGIN = """mutation($email: String!, $password: String!) {
  login(email: $email, password: $password) { accessToken }
}"""
GUESSER, OWNER = "127.0.0.2", "127.0.0.3"
EMAIL, PASSWORD = "throttled.owner@example.com", "correct horse battery"


@pytest.fixture(scope="module")
def router(stack: Any) -> Iterator[ServerThread]:
    urls = {name: f"{server.url}/graphql" for name, server in stack.servers.items()}
    settings = RouterConfig(graphiql=False, subgraph_urls=urls, hot_reload=False)
    server = ServerThread(create_app(build_gateway(SUPERGRAPH, settings), settings)).start()
    yield server
    server.stop()


@pytest.fixture
async def clients() -> AsyncIterator[dict[str, httpx.AsyncClient]]:
    """An HTTP client per loopback source address."""
    made = {
        address: httpx.AsyncClient(transport=httpx.AsyncHTTPTransport(local_address=address), timeout=30)
        for address in (GUESSER, OWNER)
    }
    yield made
    for client in made.values():
        await client.aclose()


async def login(client: httpx.AsyncClient, router: ServerThread, password: str) -> list[dict[str, Any]]:
    variables = {"email": EMAIL, "password": password}
    response = await client.post(f"{router.url}/graphql", json={"query": LOGIN, "variables": variables})
    assert response.status_code == 200, response.text
    return response.json().get("errors") or []


async def test_a_hundred_wrong_passwords_from_one_address_never_stop_the_right_one_from_another(
    api: Any, router: ServerThread, clients: dict[str, httpx.AsyncClient]
) -> None:
    registered = await clients[OWNER].post(
        f"{router.url}/graphql",
        json={"query": REGISTER, "variables": {"i": {"email": EMAIL, "password": PASSWORD, "name": "Owner"}}},
    )
    assert not registered.json().get("errors"), registered.text
    refusals: list[dict[str, Any]] = []
    for attempt in range(1, 101):
        refusals += await login(clients[GUESSER], router, "wrong password")
        if attempt % 25 == 0:
            assert await login(clients[OWNER], router, PASSWORD) == []

    codes = [error["extensions"]["code"] for error in refusals]
    free = api.settings["users"].login_free_failures
    # The guesser was heard a few times, then slowed down: the rest were refused with a time to wait.
    assert codes.count("UNAUTHENTICATED") <= free + 1
    assert codes[-1] == "RATE_LIMITED"
    assert all(
        error["extensions"]["retryAfter"] > 0
        for error in refusals
        if error["extensions"]["code"] != "UNAUTHENTICATED"
    )
    # The owner's address is its own: a wrong password there is heard, not refused.
    assert [e["extensions"]["code"] for e in await login(clients[OWNER], router, "typo")] == [
        "UNAUTHENTICATED"
    ]
    assert await login(clients[OWNER], router, PASSWORD) == []
