"""Sessions through the router over MyShop's supergraph: refresh-token reuse ends both access tokens of the
family at once, two concurrent refreshes share one new pair, and `mySessions`/`endSession` see the device the
client named (router.yaml's header rules pass its User-Agent to users)."""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from router.config import RouterConfig
from shared.testing import ServerThread

REPO = Path(__file__).resolve().parents[2]
SUPERGRAPH = (REPO / "schema" / "supergraph.graphql").read_text()
REGISTER = """
mutation Register($input: RegisterInput!) { register(input: $input) { email } }
"""
LOGIN = """
mutation Login($email: String!, $password: String!) {
  login(email: $email, password: $password) { accessToken refreshToken user { id } }
}
"""
REFRESH = """
mutation Refresh($token: String!) { refreshToken(refreshToken: $token) { accessToken refreshToken } }
"""
ME = "{ me { id } }"
MY_SESSIONS = "{ mySessions { id userAgent ipAddress current } }"
END_SESSION = "mutation End($id: ID!) { endSession(id: $id) }"
LAPTOP = "Mozilla/5.0 (Macintosh) Safari/605.1.15"


@pytest.fixture(scope="module")
def router(stack: Any, start_router: Any) -> ServerThread:
    # The committed header rules: what reaches users is what production sends it.
    headers = RouterConfig.load(REPO / "router.yaml").headers
    return start_router(
        SUPERGRAPH,
        subgraph_urls={name: f"{s.url}/graphql" for name, s in stack.servers.items()},
        headers=headers,
    )


@pytest.fixture
async def client(router: ServerThread) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(base_url=router.url, timeout=30) as client:
        yield client


@pytest.fixture
def users_state(stack: Any) -> Any:
    return stack.servers["users"].server.config.app.state.runtime.state


async def post(
    client: httpx.AsyncClient,
    query: str,
    variables: dict[str, Any] | None = None,
    token: str | None = None,
    user_agent: str | None = None,
) -> dict[str, Any]:
    headers = {"authorization": f"Bearer {token}"} if token is not None else {}
    if user_agent is not None:
        headers["user-agent"] = user_agent
    body = {"query": query, "variables": variables or {}}
    response = await client.post("/graphql", json=body, headers=headers)
    assert response.status_code == 200, response.text
    return response.json()


def data(body: dict[str, Any]) -> Any:
    assert "errors" not in body, body
    return body["data"]


def codes(body: dict[str, Any]) -> list[str]:
    return [error["extensions"]["code"] for error in body.get("errors", [])]


async def sign_up(client: httpx.AsyncClient, user_agent: str | None = None) -> dict[str, Any]:
    account = {
        "email": f"router-session-{uuid.uuid4().hex[:10]}@example.com",
        "password": "correct horse battery",
        "name": "Router Sessions",
    }
    data(await post(client, REGISTER, {"input": account}, user_agent=user_agent))
    credentials = {"email": account["email"], "password": account["password"]}
    return data(await post(client, LOGIN, credentials, user_agent=user_agent))["login"]


async def test_refresh_reuse_refuses_both_access_tokens_of_the_family_within_a_second(
    client: httpx.AsyncClient, users_state: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    # No grace window: the replay below counts as a reuse at once, as it does seconds later.
    monkeypatch.setattr(users_state.refresh_tokens, "grace_seconds", 0.0)
    signed_in = await sign_up(client)
    renewed = data(await post(client, REFRESH, {"token": signed_in["refreshToken"]}))["refreshToken"]
    for token in (signed_in["accessToken"], renewed["accessToken"]):
        data(await post(client, ME, token=token))

    started = time.monotonic()
    replayed = await post(client, REFRESH, {"token": signed_in["refreshToken"]})
    original = await post(client, ME, token=signed_in["accessToken"])
    refreshed = await post(client, ME, token=renewed["accessToken"])
    elapsed = time.monotonic() - started

    assert codes(replayed) == ["UNAUTHENTICATED"]
    assert replayed["errors"][0]["extensions"]["reason"] == "reused"
    assert codes(original) == ["UNAUTHENTICATED"]
    assert codes(refreshed) == ["UNAUTHENTICATED"]
    assert elapsed < 1.0
    assert codes(await post(client, REFRESH, {"token": renewed["refreshToken"]})) == ["UNAUTHENTICATED"]


async def test_two_concurrent_refreshes_of_one_token_both_succeed_with_the_same_new_pair(
    client: httpx.AsyncClient,
) -> None:
    signed_in = await sign_up(client)

    first, second = await asyncio.gather(
        *(post(client, REFRESH, {"token": signed_in["refreshToken"]}) for _ in range(2))
    )

    pair = data(first)["refreshToken"]
    assert data(second)["refreshToken"] == pair
    data(await post(client, ME, token=pair["accessToken"]))
    data(await post(client, REFRESH, {"token": pair["refreshToken"]}))


async def test_my_sessions_shows_the_clients_user_agent_and_end_session_ends_one(
    client: httpx.AsyncClient,
) -> None:
    laptop = await sign_up(client, user_agent=LAPTOP)
    renewed = data(await post(client, REFRESH, {"token": laptop["refreshToken"]}, user_agent=LAPTOP))

    sessions = data(await post(client, MY_SESSIONS, token=laptop["accessToken"]))["mySessions"]

    assert [(s["userAgent"], s["ipAddress"], s["current"]) for s in sessions] == [(LAPTOP, "127.0.0.1", True)]
    ended = await post(client, END_SESSION, {"id": sessions[0]["id"]}, token=laptop["accessToken"])
    assert data(ended) == {"endSession": True}
    for token in (laptop["accessToken"], renewed["refreshToken"]["accessToken"]):
        assert codes(await post(client, ME, token=token)) == ["UNAUTHENTICATED"]
