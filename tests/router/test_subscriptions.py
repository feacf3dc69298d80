"""Subscriptions through the router over real sockets: a client speaks graphql-transport-ws (or SSE) to the
router, the router opens graphql-transport-ws to the stand-in subgraph owning the root field and completes
each event from a second stand-in subgraph with `_entities`. Both stand-ins are small Strawberry federation
apps on loopback, composed with our composition tool."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncGenerator, Iterator
from pathlib import Path
from typing import Any

import aiohttp
import httpx
import orjson
import psutil
import pytest
import strawberry
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from edge_headers import OPS, PREFLIGHT
from eventually import eventually
from graphql import GraphQLError
from strawberry.asgi import GraphQL
from strawberry.federation.schema_directives import Key
from strawberry.types import Info
from subscription_client import sse_events
from ws_client import connect

from router.config import RouterConfig
from router.http.app import RouterApp
from router.pipeline.gateway import Gateway
from router.server import create_app
from shared.auth import KeyRing, TokenIssuer
from shared.auth.keys import SigningKey
from shared.composition import compose
from shared.testing import ServerThread

REPO = Path(__file__).resolve().parents[2]

# What the stand-in subgraphs saw: open subscription generators, tokens, entity fetch headers.
OPEN_STREAMS: set[int] = set()
SEEN_TOKENS: list[Any] = []
ENTITY_AUTHORIZATION: list[str | None] = []
STATUSES = ("PENDING", "INVENTORY_RESERVED", "PAYMENT_AUTHORIZED", "CONFIRMED")


# --- the "orders" stand-in: owns Order and the subscriptions --------------------------------------------


@strawberry.federation.type(keys=[Key(fields="id", resolvable=False)])
class User:
    id: strawberry.ID


@strawberry.federation.type(keys=["id"])
class Order:
    id: strawberry.ID
    status: str
    user: User


@strawberry.type
class OrdersQuery:
    @strawberry.field
    def order(self, id: strawberry.ID) -> Order:
        return Order(id=id, status="PENDING", user=User(id=strawberry.ID(f"owner-{id}")))


async def _tracked(events: AsyncGenerator[Any, None]) -> AsyncGenerator[Any, None]:
    marker = id(events)
    OPEN_STREAMS.add(marker)
    try:
        async for event in events:
            yield event
    finally:
        OPEN_STREAMS.discard(marker)


@strawberry.type
class OrdersSubscription:
    @strawberry.subscription
    async def order_status_changed(
        self, info: Info, order_id: strawberry.ID, delay: float = 0.0
    ) -> AsyncGenerator[Order, None]:
        SEEN_TOKENS.append((info.context.get("connection_params") or {}).get("Authorization"))

        async def events() -> AsyncGenerator[Order, None]:
            for status in STATUSES:
                await asyncio.sleep(delay)
                yield Order(id=order_id, status=status, user=User(id=strawberry.ID(f"owner-{order_id}")))

        async for event in _tracked(events()):
            yield event

    @strawberry.subscription
    async def ticks(self, size: int = 0, pause: float = 0.0) -> AsyncGenerator[str, None]:
        async def events() -> AsyncGenerator[str, None]:
            n = 0
            while True:
                n += 1
                yield f"{n}:" + "x" * size
                await asyncio.sleep(pause)

        async for event in _tracked(events()):
            yield event

    @strawberry.subscription
    async def forbidden(self) -> AsyncGenerator[str, None]:
        raise GraphQLError("not your order", extensions={"code": "FORBIDDEN"})
        yield ""  # pragma: no cover  (makes this a generator)

    @strawberry.subscription
    async def hang_up(self, info: Info) -> AsyncGenerator[str, None]:
        yield "bye"
        await info.context["request"].close(code=1011)
        await asyncio.sleep(10)
        yield "never"


orders_schema = strawberry.federation.Schema(
    query=OrdersQuery, subscription=OrdersSubscription, types=[Order, User]
)


# --- the "users" stand-in: completes User --------------------------------------------------------------


@strawberry.federation.type(keys=["id"], name="User")
class FullUser:
    id: strawberry.ID
    email: str

    @classmethod
    def resolve_reference(cls, info: Info, id: strawberry.ID) -> FullUser:
        ENTITY_AUTHORIZATION.append(info.context["request"].headers.get("authorization"))
        return FullUser(id=id, email=f"{id}@example.com")


@strawberry.type
class UsersQuery:
    @strawberry.field
    def user_count(self) -> int:
        return 1


users_schema = strawberry.federation.Schema(query=UsersQuery, types=[FullUser])


def _asgi(app: Any) -> Any:
    async def asgi(scope: dict, receive: Any, send: Any) -> None:
        if scope["type"] == "lifespan":
            while True:
                kind = (await receive())["type"].replace("lifespan.", "")
                await send({"type": f"lifespan.{kind}.complete"})
                if kind == "shutdown":
                    return
        await app(scope, receive, send)

    return asgi


class Jwks:
    """users' JWKS endpoint, stood in: the public key of `issuer`."""

    def __init__(self) -> None:
        keys = KeyRing(SigningKey.from_private_key(Ed25519PrivateKey.generate()), [])
        self.body = orjson.dumps(keys.jwks())
        self.issuer = TokenIssuer(
            keys, issuer="https://myshop.local/users", audience="myshop", ttl_seconds=300
        )

    async def __call__(self, scope: dict, receive: Any, send: Any) -> None:
        await send({"type": "http.response.start", "status": 200,
                    "headers": [(b"content-type", b"application/json")]})  # fmt: skip
        await send({"type": "http.response.body", "body": self.body})


# --- fixtures ------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def jwks() -> Jwks:
    return Jwks()


@pytest.fixture(scope="module")
def subgraphs(jwks: Jwks) -> Iterator[dict[str, ServerThread]]:
    started = {
        "orders": ServerThread(_asgi(GraphQL(orders_schema))).start(),
        "users": ServerThread(_asgi(GraphQL(users_schema))).start(),
        "jwks": ServerThread(_asgi(jwks)).start(),
    }
    yield started
    for server in started.values():
        server.stop()


@pytest.fixture(scope="module")
def supergraph(subgraphs: dict[str, ServerThread]) -> str:
    return compose(
        [
            ("orders", subgraphs["orders"].url + "/graphql", orders_schema.as_str()),
            ("users", subgraphs["users"].url + "/graphql", users_schema.as_str()),
        ],
        repo_root=REPO,
    )


def start_router(supergraph: str, **settings: Any) -> tuple[ServerThread, RouterApp]:
    config = RouterConfig(graphiql=False, **settings)
    app = create_app(Gateway.from_supergraph(supergraph), config)
    return ServerThread(app).start(), app


@pytest.fixture(scope="module")
def router(supergraph: str, subgraphs: dict[str, ServerThread]) -> Iterator[tuple[ServerThread, RouterApp]]:
    server, app = start_router(
        supergraph,
        ws_init_timeout_seconds=0.5,
        max_subscriptions_per_connection=3,
        sse_keepalive_seconds=0.2,
        jwks_url=subgraphs["jwks"].url + "/jwks.json",
    )
    yield server, app
    server.stop()


@pytest.fixture
async def http() -> AsyncGenerator[aiohttp.ClientSession, None]:
    async with aiohttp.ClientSession() as session:
        yield session


STATUS_CHANGED = """
subscription Changed($id: ID!) {
  orderStatusChanged(orderId: $id) { id status user { id email } }
}
"""


def connections_to(server: ServerThread) -> int:
    """Open TCP connections from this process to `server` (the router's sockets to a subgraph)."""
    return sum(
        1
        for c in psutil.Process().net_connections(kind="tcp")
        if c.raddr and c.raddr.port == server.port and c.status == psutil.CONN_ESTABLISHED
    )


# --- WebSocket: events ---------------------------------------------------------------------------------


async def test_ws_events_arrive_in_order_completed_from_the_other_subgraph(
    router: tuple[ServerThread, RouterApp], http: aiohttp.ClientSession
) -> None:
    ws = await connect(http, router[0])
    await ws.send_json({"id": "s1", "type": "subscribe",
                        "payload": {"query": STATUS_CHANGED, "variables": {"id": "o1"}}})  # fmt: skip

    frames = await ws.until_complete("s1")

    assert [f["type"] for f in frames] == ["next"] * 4 + ["complete"]
    assert [f["payload"]["data"]["orderStatusChanged"]["status"] for f in frames[:4]] == list(STATUSES)
    assert frames[0]["payload"] == {
        "data": {
            "orderStatusChanged": {
                "id": "o1",
                "status": "PENDING",
                "user": {"id": "owner-o1", "email": "owner-o1@example.com"},
            }
        }
    }
    await ws.close()


async def test_ws_token_reaches_the_subgraph_in_connection_init_and_the_entity_fetches(
    router: tuple[ServerThread, RouterApp], http: aiohttp.ClientSession, jwks: Jwks
) -> None:
    token = jwks.issuer.issue("u1", ["CUSTOMER"]).token
    ws = await connect(http, router[0], {"Authorization": f"Bearer {token}"})
    SEEN_TOKENS.clear()
    ENTITY_AUTHORIZATION.clear()

    await ws.send_json({"id": "1", "type": "subscribe",
                        "payload": {"query": STATUS_CHANGED, "variables": {"id": "o2"}}})  # fmt: skip
    await ws.until_complete("1")

    assert SEEN_TOKENS == [f"Bearer {token}"]
    assert ENTITY_AUTHORIZATION == [f"Bearer {token}"] * 4
    await ws.close()


async def test_ws_subgraph_error_passes_through_with_its_code(
    router: tuple[ServerThread, RouterApp], http: aiohttp.ClientSession
) -> None:
    ws = await connect(http, router[0])

    await ws.send_json({"id": "1", "type": "subscribe", "payload": {"query": "subscription { forbidden }"}})
    frames = await ws.until_complete("1")

    codes = [e["extensions"]["code"] for f in frames if f["type"] == "next" for e in f["payload"]["errors"]]
    assert codes == ["FORBIDDEN"]
    assert frames[-1]["type"] == "complete"
    await ws.close()


async def test_ws_lost_subgraph_connection_ends_with_an_error_then_complete(
    router: tuple[ServerThread, RouterApp], http: aiohttp.ClientSession
) -> None:
    ws = await connect(http, router[0])

    await ws.send_json({"id": "1", "type": "subscribe", "payload": {"query": "subscription { hangUp }"}})
    frames = await ws.until_complete("1")

    assert frames[0]["payload"] == {"data": {"hangUp": "bye"}}
    assert frames[1]["payload"]["errors"][0]["extensions"]["code"] == "SUBSCRIPTION_CONNECTION_LOST"
    assert [f["type"] for f in frames[1:]] == ["next", "complete"]
    await ws.close()


async def test_ws_client_complete_ends_the_subgraph_subscription_and_its_socket(
    router: tuple[ServerThread, RouterApp], http: aiohttp.ClientSession, subgraphs: dict[str, ServerThread]
) -> None:
    before = connections_to(subgraphs["orders"])
    ws = await connect(http, router[0])
    await ws.send_json({"id": "t", "type": "subscribe",
                        "payload": {"query": "subscription { ticks(pause: 0.01) }"}})  # fmt: skip
    assert (await ws.receive())["type"] == "next"
    assert OPEN_STREAMS and connections_to(subgraphs["orders"]) == before + 1

    await ws.send_json({"id": "t", "type": "complete"})

    await eventually(lambda: not OPEN_STREAMS and connections_to(subgraphs["orders"]) == before)
    assert router[1].subscriptions.open["websocket"] == 0
    assert router[1].subscriptions.ended[("websocket", "client")] >= 1
    await ws.close()


async def test_ws_client_disconnect_ends_the_subgraph_subscription_and_its_socket(
    router: tuple[ServerThread, RouterApp], http: aiohttp.ClientSession, subgraphs: dict[str, ServerThread]
) -> None:
    before = connections_to(subgraphs["orders"])
    ws = await connect(http, router[0])
    for n in range(3):  # three different subscriptions: three subgraph sockets (identical ones share one)
        query = f"subscription {{ ticks(pause: 0.01, size: {n}) }}"
        await ws.send_json({"id": f"t{n}", "type": "subscribe", "payload": {"query": query}})
    await eventually(lambda: len(OPEN_STREAMS) == 3)

    await ws.close()

    await eventually(lambda: not OPEN_STREAMS and connections_to(subgraphs["orders"]) == before)
    assert router[1].subscriptions.open["websocket"] == 0


async def test_ws_query_over_the_socket_answers_one_next_then_complete(
    router: tuple[ServerThread, RouterApp], http: aiohttp.ClientSession
) -> None:
    ws = await connect(http, router[0])

    await ws.send_json({"id": "q", "type": "subscribe",
                        "payload": {"query": '{ order(id: "o9") { status user { email } } }'}})  # fmt: skip
    frames = await ws.until_complete("q")

    assert frames == [
        {"id": "q", "type": "next",
         "payload": {"data": {"order": {"status": "PENDING", "user": {"email": "owner-o9@example.com"}}}}},
        {"id": "q", "type": "complete"},
    ]  # fmt: skip
    await ws.close()


async def test_ws_invalid_operation_answers_an_error_message_and_keeps_the_socket(
    router: tuple[ServerThread, RouterApp], http: aiohttp.ClientSession
) -> None:
    ws = await connect(http, router[0])

    await ws.send_json({"id": "bad", "type": "subscribe", "payload": {"query": "subscription { nope }"}})
    frame = await ws.receive()
    await ws.send_json({"type": "ping"})

    assert frame["type"] == "error" and frame["id"] == "bad"
    assert frame["payload"][0]["extensions"]["code"] == "GRAPHQL_VALIDATION_FAILED"
    assert await ws.receive() == {"type": "pong"}
    await ws.close()


async def test_ws_subscriptions_past_the_per_connection_limit_are_refused(
    router: tuple[ServerThread, RouterApp], http: aiohttp.ClientSession
) -> None:
    ws = await connect(http, router[0])
    for n in range(3):
        await ws.send_json({"id": f"t{n}", "type": "subscribe",
                            "payload": {"query": "subscription { ticks(pause: 0.05) }"}})  # fmt: skip
    await eventually(lambda: router[1].subscriptions.open["websocket"] == 3)

    await ws.send_json({"id": "t3", "type": "subscribe", "payload": {"query": "subscription { ticks }"}})
    frame = await ws.receive()
    while frame["type"] == "next":
        frame = await ws.receive()

    assert frame["id"] == "t3" and frame["type"] == "error"
    assert frame["payload"][0]["extensions"]["code"] == "SUBSCRIPTION_LIMIT_EXCEEDED"
    await ws.close()


# --- WebSocket: the protocol ---------------------------------------------------------------------------


async def test_ws_without_connection_init_is_closed_4408(
    router: tuple[ServerThread, RouterApp], http: aiohttp.ClientSession
) -> None:
    ws = await connect(http, router[0], init=False)
    assert await ws.close_code() == 4408


async def test_ws_second_connection_init_is_closed_4429(
    router: tuple[ServerThread, RouterApp], http: aiohttp.ClientSession
) -> None:
    ws = await connect(http, router[0])
    await ws.send_json({"type": "connection_init"})
    assert await ws.close_code() == 4429


async def test_ws_subscribe_before_ack_is_closed_4401(
    router: tuple[ServerThread, RouterApp], http: aiohttp.ClientSession
) -> None:
    ws = await connect(http, router[0], init=False)
    await ws.send_json({"id": "1", "type": "subscribe", "payload": {"query": "subscription { ticks }"}})
    assert await ws.close_code() == 4401


async def test_ws_duplicate_operation_id_is_closed_4409(
    router: tuple[ServerThread, RouterApp], http: aiohttp.ClientSession
) -> None:
    ws = await connect(http, router[0])
    subscribe = {
        "id": "same",
        "type": "subscribe",
        "payload": {"query": "subscription { ticks(pause: 0.05) }"},
    }
    await ws.send_json(subscribe)
    await ws.send_json(subscribe)
    assert await ws.close_code() == 4409


@pytest.mark.parametrize(
    "message",
    ["not json", '{"no": "type"}', '{"type": "subscribe", "id": "1"}', '{"type": "next", "id": "1"}'],
)
async def test_ws_invalid_message_is_closed_4400(
    router: tuple[ServerThread, RouterApp], http: aiohttp.ClientSession, message: str
) -> None:
    ws = await connect(http, router[0])
    await ws.send_str(message)
    assert await ws.close_code() == 4400


async def test_ws_bad_token_in_connection_init_is_closed_4403(
    router: tuple[ServerThread, RouterApp], http: aiohttp.ClientSession
) -> None:
    ws = await connect(http, router[0], init=False)
    await ws.send_json({"type": "connection_init", "payload": {"authorization": "Bearer not-a-jwt"}})
    assert await ws.close_code() == 4403


async def test_ws_ping_is_answered_with_pong(
    router: tuple[ServerThread, RouterApp], http: aiohttp.ClientSession
) -> None:
    ws = await connect(http, router[0])
    await ws.send_json({"type": "ping"})
    assert await ws.receive() == {"type": "pong"}
    await ws.close()


async def test_ws_without_the_subprotocol_is_refused(
    router: tuple[ServerThread, RouterApp], http: aiohttp.ClientSession
) -> None:
    with pytest.raises(aiohttp.WSServerHandshakeError) as refused:
        await connect(http, router[0], init=False, subprotocol="graphql-ws")
    assert refused.value.status == 403


async def test_ws_client_that_does_not_read_is_closed_as_a_slow_consumer(
    supergraph: str, http: aiohttp.ClientSession
) -> None:
    server, app = start_router(supergraph, subscription_send_buffer=4)
    try:
        ws = await connect(http, server)
        await ws.send_json({"id": "t", "type": "subscribe",
                            "payload": {"query": "subscription { ticks(size: 65536) }"}})  # fmt: skip

        await eventually(lambda: app.subscriptions.ended.get(("websocket", "slow_consumer")) == 1, within=20)

        assert app.subscriptions.open["websocket"] == 0
        await eventually(lambda: not OPEN_STREAMS)
        assert await ws.close_code(seconds=20) == 1008
    finally:
        server.stop()


# --- SSE and plain HTTP --------------------------------------------------------------------------------


async def test_sse_streams_each_event_then_complete(router: tuple[ServerThread, RouterApp]) -> None:
    async with httpx.AsyncClient(timeout=10) as client:
        response = await client.post(
            router[0].url + "/graphql",
            json={"query": STATUS_CHANGED, "variables": {"id": "o3"}},
            headers={"accept": "text/event-stream", **PREFLIGHT},
        )

    assert response.headers["content-type"].startswith("text/event-stream")
    events = sse_events(response.text)
    assert [e for e, _ in events] == ["next"] * 4 + ["complete"]
    statuses = [orjson.loads(d)["data"]["orderStatusChanged"]["status"] for _, d in events[:4]]
    assert statuses == list(STATUSES)
    assert orjson.loads(events[3][1])["data"]["orderStatusChanged"]["user"]["email"] == "owner-o3@example.com"


async def test_sse_query_answers_one_next_then_complete(router: tuple[ServerThread, RouterApp]) -> None:
    async with httpx.AsyncClient(timeout=10) as client:
        response = await client.get(
            router[0].url + "/graphql",
            params={"query": '{ order(id: "o4") { status } }'},
            headers={"accept": "text/event-stream", **PREFLIGHT},
        )

    assert sse_events(response.text) == [
        ("next", '{"data":{"order":{"status":"PENDING"}}}'),
        ("complete", ""),
    ]


async def test_sse_sends_keepalive_comments_while_idle(router: tuple[ServerThread, RouterApp]) -> None:
    async with httpx.AsyncClient(timeout=10) as client:
        async with client.stream(
            "POST",
            router[0].url + "/graphql",
            json={"query": "subscription { ticks(pause: 1.0) }"},
            headers={"accept": "text/event-stream"},
        ) as stream:
            seen = ""
            async for chunk in stream.aiter_text():
                seen += chunk
                if seen.count(":\n\n") >= 2:
                    break
    assert seen.startswith("event: next") and seen.count(":\n\n") >= 2


async def test_sse_client_disconnect_ends_the_subgraph_subscription(
    router: tuple[ServerThread, RouterApp], subgraphs: dict[str, ServerThread]
) -> None:
    before = connections_to(subgraphs["orders"])
    async with httpx.AsyncClient(timeout=10) as client:
        async with client.stream(
            "POST",
            router[0].url + "/graphql",
            json={"query": "subscription { ticks(pause: 0.01) }"},
            headers={"accept": "text/event-stream"},
        ) as stream:
            async for chunk in stream.aiter_text():
                if "event: next" in chunk:
                    break
            assert OPEN_STREAMS

    await eventually(lambda: not OPEN_STREAMS and connections_to(subgraphs["orders"]) == before)
    assert router[1].subscriptions.open["sse"] == 0
    assert router[1].subscriptions.ended[("sse", "disconnect")] >= 1


async def test_subscription_over_plain_json_http_is_refused_with_a_code(
    router: tuple[ServerThread, RouterApp],
) -> None:
    async with httpx.AsyncClient(timeout=10) as client:
        response = await client.post(
            router[0].url + "/graphql",
            json={"query": STATUS_CHANGED, "variables": {"id": "o6"}},
            headers={"accept": "application/graphql-response+json"},
        )

    assert response.status_code == 400
    assert response.json()["errors"][0]["extensions"]["code"] == "SUBSCRIPTION_TRANSPORT_REQUIRED"


async def test_metrics_count_open_subscriptions_and_delivered_events(
    router: tuple[ServerThread, RouterApp], http: aiohttp.ClientSession
) -> None:
    ws = await connect(http, router[0])
    await ws.send_json({"id": "t", "type": "subscribe",
                        "payload": {"query": "subscription { ticks(pause: 0.01) }"}})  # fmt: skip
    await ws.receive()

    async with httpx.AsyncClient(timeout=10) as client:
        text = (await client.get(router[0].url + "/metrics", headers=OPS)).text

    assert 'myshop_router_subscriptions_open{transport="websocket"} 1.0' in text
    assert 'myshop_router_subscription_events_total{transport="websocket"}' in text
    await ws.close()


async def test_closing_a_stream_completes_the_subgraph_subscription_and_closes_its_socket(
    supergraph: str, subgraphs: dict[str, ServerThread]
) -> None:
    gateway = Gateway.from_supergraph(supergraph)
    try:
        before = connections_to(subgraphs["orders"])
        stream = gateway.subscribe("subscription { ticks(pause: 0.01) }")
        assert stream is not None
        assert await anext(stream) == {"data": {"ticks": "1:"}}
        assert OPEN_STREAMS and connections_to(subgraphs["orders"]) == before + 1

        await stream.aclose()

        await eventually(lambda: not OPEN_STREAMS and connections_to(subgraphs["orders"]) == before)
    finally:
        await gateway.close()
