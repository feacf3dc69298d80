"""Edge auth at the router's WebSocket door: a bad bearer token, in the `connection_init` payload or in the
upgrade request's Authorization header, closes the socket with 4403 and nothing reaches a subgraph; a good
one goes on to the subgraph.

Users' JWKS is a stand-in serving one fresh key; the only subgraph is a Strawberry federation app behind a
recorder that keeps every HTTP request and WebSocket connection it gets (and the token each subscription was
opened with), so what passed the edge is on record.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import AsyncGenerator, AsyncIterator, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiohttp
import jwt
import orjson
import pytest
import strawberry
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from standin import request_headers, respond
from strawberry.asgi import GraphQL
from strawberry.types import Info
from ws_client import GraphQLWebSocket, connect

from router.config import RouterConfig
from router.pipeline.gateway import Gateway
from router.server import create_app
from shared.auth import KeyRing, TokenIssuer
from shared.auth.keys import SigningKey
from shared.composition import compose
from shared.testing import ServerThread

REPO = Path(__file__).resolve().parents[2]
ISSUER, AUDIENCE = "https://myshop.local/users", "myshop"  # the router's defaults
FORBIDDEN = 4403
OPERATIONS = {
    # Streams from the subgraph over a WebSocket of the router's own.
    "subscription": "subscription { greetings }",
    # Runs through the router's normal pipeline: one HTTP fetch to the subgraph.
    "query": "{ greeting }",
}


# --- the subgraph, recorded ------------------------------------------------------------------------------


@dataclass
class Record:
    """What reached the subgraph: `(scope type, Authorization header)` per connection, and the
    `connection_init` Authorization of each subscription it started."""

    connections: list[tuple[str, str | None]] = field(default_factory=list)
    subscribed_with: list[str | None] = field(default_factory=list)


RECORD = Record()


@strawberry.type
class Query:
    @strawberry.field
    def greeting(self) -> str:
        return "hello"


@strawberry.type
class Subscription:
    @strawberry.subscription
    async def greetings(self, info: Info) -> AsyncGenerator[str, None]:
        RECORD.subscribed_with.append((info.context.get("connection_params") or {}).get("Authorization"))
        yield "hello"


schema = strawberry.federation.Schema(query=Query, subscription=Subscription)


class Recorded:
    """The subgraph's ASGI app, recording each HTTP request and WebSocket connection before it is served."""

    def __init__(self, app: Any) -> None:
        self.app = app

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] == "lifespan":
            while (await receive())["type"] != "lifespan.shutdown":
                await send({"type": "lifespan.startup.complete"})
            await send({"type": "lifespan.shutdown.complete"})
            return
        RECORD.connections.append((scope["type"], request_headers(scope).get("authorization")))
        await self.app(scope, receive, send)


class Jwks:
    """users' JWKS endpoint, stood in at `url`: the public key of the key `issuer` signs with."""

    def __init__(self) -> None:
        keys = KeyRing(SigningKey.from_private_key(Ed25519PrivateKey.generate()), [])
        self.body = orjson.dumps(keys.jwks())
        self.issuer = TokenIssuer(keys, issuer=ISSUER, audience=AUDIENCE, ttl_seconds=300)
        self.url = ""

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] == "lifespan":
            while (await receive())["type"] != "lifespan.shutdown":
                await send({"type": "lifespan.startup.complete"})
            await send({"type": "lifespan.shutdown.complete"})
            return
        await respond(send, self.body)


# --- fixtures --------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def jwks() -> Iterator[Jwks]:
    endpoint = Jwks()
    server = ServerThread(endpoint).start()
    endpoint.url = f"{server.url}/.well-known/jwks.json"
    yield endpoint
    server.stop()


@pytest.fixture(scope="module")
def router(jwks: Jwks) -> Iterator[ServerThread]:
    subgraph = ServerThread(Recorded(GraphQL(schema))).start()
    supergraph = compose([("shop", f"{subgraph.url}/graphql", schema.as_str())], repo_root=REPO)
    config = RouterConfig(graphiql=False, jwks_url=jwks.url)
    server = ServerThread(create_app(Gateway.from_supergraph(supergraph), config)).start()
    yield server
    server.stop()
    subgraph.stop()


@pytest.fixture
def record() -> Record:
    RECORD.connections.clear()
    RECORD.subscribed_with.clear()
    return RECORD


@pytest.fixture
async def http() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession() as session:
        yield session


# --- tokens ----------------------------------------------------------------------------------------------


def bad_token(issuer: TokenIssuer, case: str) -> str:
    now = int(time.time())
    claims = {"iss": ISSUER, "aud": AUDIENCE, "sub": str(uuid.uuid4()), "roles": ["CUSTOMER"],
              "iat": now, "nbf": now, "exp": now + 300, "jti": uuid.uuid4().hex}  # fmt: skip
    kid = issuer.key.kid
    if case == "expired":
        # Signed with the real key, expired an hour ago (far past the router's leeway).
        expired = claims | {"iat": now - 7200, "nbf": now - 7200, "exp": now - 3600}
        return jwt.encode(expired, issuer.key.private_key, algorithm="EdDSA", headers={"kid": kid})
    if case == "tampered":
        # A real token, its signature with one character changed (the first: all six bits are signature).
        header, payload, signature = issuer.issue(str(uuid.uuid4()), ["CUSTOMER"]).token.split(".")
        altered = ("B" if signature[0] == "A" else "A") + signature[1:]
        return f"{header}.{payload}.{altered}"
    if case == "alg none":
        # Unsigned, naming the real key.
        return jwt.encode(claims, None, algorithm="none", headers={"kid": kid})
    raise AssertionError(case)


# --- the door --------------------------------------------------------------------------------------------


async def open_socket(
    http: aiohttp.ClientSession, router: ServerThread, door: str, token: str
) -> GraphQLWebSocket:
    """A socket that sent `connection_init` with `token` at `door`: its payload, or the upgrade's header."""
    authorization = f"Bearer {token}"
    headers = {"Authorization": authorization} if door == "upgrade header" else {}
    ws = await connect(http, router, init=False, headers=headers)
    init: dict[str, Any] = {"type": "connection_init"}
    if door == "connection_init":
        init["payload"] = {"Authorization": authorization}
    await ws.send_json(init)
    return ws


async def what_the_client_got(ws: GraphQLWebSocket) -> tuple[list[str], int | None, str]:
    """Frame types up to the socket's close or the operation's end; the close code and reason (None, "" when
    the socket stayed open)."""
    assert ws.raw is not None
    frames: list[str] = []
    while True:
        message = await ws.raw.receive(timeout=10)
        if message.type is aiohttp.WSMsgType.CLOSE:
            return frames, message.data, message.extra
        assert message.type is aiohttp.WSMsgType.TEXT, (message.type, message.data)
        frames.append(orjson.loads(message.data)["type"])
        if frames[-1] in ("complete", "error"):
            return frames, None, ""


DOORS = ["connection_init", "upgrade header"]


@pytest.mark.parametrize("operation", list(OPERATIONS))
@pytest.mark.parametrize("case", ["expired", "tampered", "alg none"])
@pytest.mark.parametrize("door", DOORS)
async def test_a_bad_token_at_the_websocket_door_is_closed_4403_before_any_subgraph_is_called(
    router: ServerThread,
    jwks: Jwks,
    record: Record,
    http: aiohttp.ClientSession,
    door: str,
    case: str,
    operation: str,
) -> None:
    # Given a socket whose connection_init carries a bad token (or whose upgrade did), and a client that does
    # not wait for the acknowledgement before it subscribes
    ws = await open_socket(http, router, door, bad_token(jwks.issuer, case))
    await ws.send_json({"id": "1", "type": "subscribe", "payload": {"query": OPERATIONS[operation]}})

    # When the router answers
    frames, code, reason = await what_the_client_got(ws)

    # Then nothing reached the subgraph, and the socket was closed Forbidden without an acknowledgement
    assert record.connections == [] and record.subscribed_with == []
    assert (frames, code, reason) == ([], FORBIDDEN, "Forbidden")


@pytest.mark.parametrize("door", DOORS)
async def test_a_good_token_at_the_websocket_door_reaches_the_subgraph_of_a_subscription(
    router: ServerThread,
    jwks: Jwks,
    record: Record,
    http: aiohttp.ClientSession,
    door: str,
) -> None:
    # The control of the test above: the same door, the same client, a good token.
    token = jwks.issuer.issue(str(uuid.uuid4()), ["CUSTOMER"]).token
    ws = await open_socket(http, router, door, token)
    await ws.send_json({"id": "1", "type": "subscribe", "payload": {"query": OPERATIONS["subscription"]}})

    assert await ws.receive() == {"type": "connection_ack"}
    frames = await ws.until_complete("1")

    assert frames == [
        {"id": "1", "type": "next", "payload": {"data": {"greetings": "hello"}}},
        {"id": "1", "type": "complete"},
    ]
    assert [kind for kind, _ in record.connections] == ["websocket"]
    assert record.subscribed_with == [f"Bearer {token}"]
    await ws.close()


@pytest.mark.parametrize("door", DOORS)
async def test_a_good_token_at_the_websocket_door_reaches_the_subgraph_of_a_query(
    router: ServerThread,
    jwks: Jwks,
    record: Record,
    http: aiohttp.ClientSession,
    door: str,
) -> None:
    token = jwks.issuer.issue(str(uuid.uuid4()), ["CUSTOMER"]).token
    ws = await open_socket(http, router, door, token)
    await ws.send_json({"id": "1", "type": "subscribe", "payload": {"query": OPERATIONS["query"]}})

    assert await ws.receive() == {"type": "connection_ack"}
    frames = await ws.until_complete("1")

    assert frames == [
        {"id": "1", "type": "next", "payload": {"data": {"greeting": "hello"}}},
        {"id": "1", "type": "complete"},
    ]
    assert record.connections == [("http", f"Bearer {token}")]
    await ws.close()


@pytest.mark.parametrize(
    "presented",
    ["bad upgrade header, good payload", "good and bad spellings of the payload's key"],
)
async def test_every_token_a_websocket_client_presents_is_verified(
    router: ServerThread, jwks: Jwks, record: Record, http: aiohttp.ClientSession, presented: str
) -> None:
    # Given a socket that presents a good token and, beside it, a bad one the good one must not wave through
    good = f"Bearer {jwks.issuer.issue(str(uuid.uuid4()), ['CUSTOMER']).token}"
    bad = f"Bearer {bad_token(jwks.issuer, 'expired')}"
    if presented == "bad upgrade header, good payload":
        headers, payload = {"Authorization": bad}, {"Authorization": good}
    else:
        headers, payload = {}, {"Authorization": good, "authorization": bad}
    ws = await connect(http, router, init=False, headers=headers)
    await ws.send_json({"type": "connection_init", "payload": payload})
    await ws.send_json({"id": "1", "type": "subscribe", "payload": {"query": OPERATIONS["query"]}})

    # When the router answers
    frames, code, reason = await what_the_client_got(ws)

    # Then the socket is closed Forbidden and nothing reached the subgraph
    assert record.connections == [] and record.subscribed_with == []
    assert (frames, code, reason) == ([], FORBIDDEN, "Forbidden")
