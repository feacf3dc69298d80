"""Shared upstream subscriptions: clients asking the same subscription of the same subgraph with the same
credentials hold one subgraph subscription (read from the router's /metrics and from the subgraph's side),
each event completed once and fanned out; other tokens get their own; a late joiner gets the events from then
on; the last to leave closes it; a failing upstream ends every client alike; a slow client is let go alone;
off, each client has its own."""

from __future__ import annotations

import asyncio
import re
from collections.abc import AsyncIterator, Iterator
from typing import Any

import httpx
import pytest
from edge_headers import OPS
from eventually import eventually
from subscription_standin import Seen, order_subgraphs, supergraph, urls
from ws_client import GraphQLWebSocket

from router.config import RouterConfig
from router.execution.subscription import SlowConsumer
from router.http.app import RouterApp
from router.pipeline.gateway import Gateway
from router.server import build_gateway, create_app
from router.upstream.headers import HeaderPropagation
from shared.testing import ServerThread

UPDATES = "subscription { orderUpdates { status order { id user { email } } } }"
PUBLISH = "mutation($id: ID!, $s: String!) { setOrderStatus(orderId: $id, status: $s) }"
CLIENTS = 1000


def update(order_id: str, status: str) -> dict[str, Any]:
    order = {"id": order_id, "user": {"email": f"owner-{order_id}@example.com"}}
    return {"data": {"orderUpdates": {"status": status, "order": order}}}


@pytest.fixture(scope="module")
def stand_ins() -> Iterator[dict[str, ServerThread]]:
    with order_subgraphs() as started:
        yield started


@pytest.fixture(scope="module")
def router(stand_ins: dict[str, ServerThread]) -> Iterator[tuple[ServerThread, RouterApp]]:
    config = RouterConfig(
        graphiql=False, subgraph_urls=urls(stand_ins), max_subscriptions_per_connection=CLIENTS
    )
    app = create_app(build_gateway(supergraph(), config), config)
    server = ServerThread(app).start()
    yield server, app
    server.stop()


@pytest.fixture(scope="module")
async def in_process(stand_ins: dict[str, ServerThread]) -> AsyncIterator[Gateway]:
    gateway = Gateway.from_supergraph(supergraph(), subgraph_urls=urls(stand_ins))
    yield gateway
    await gateway.close()


@pytest.fixture
def gateway(in_process: Gateway) -> Gateway:
    """An in-process gateway (no door) over the stand-ins, sharing as configured by default."""
    in_process.execution.shared.enabled = True
    in_process.execution.shared.queue_size = 1024
    return in_process


async def publish(server: ServerThread, order_id: str, status: str) -> int:
    """Changes an order's status through the router; how many subgraph feeds got it."""
    async with httpx.AsyncClient(timeout=10) as client:
        response = await client.post(
            server.url + "/graphql", json={"query": PUBLISH, "variables": {"id": order_id, "s": status}}
        )
    return response.json()["data"]["setOrderStatus"]  # type: ignore[no-any-return]


async def gauges(server: ServerThread) -> dict[str, float]:
    """The router's upstream subscription gauges for the orders subgraph, from /metrics."""
    async with httpx.AsyncClient(timeout=10) as client:
        text = (await client.get(server.url + "/metrics", headers=OPS)).text
    found = re.findall(r'^(myshop_router_subscription_upstream\w+)\{subgraph="orders"\} (\S+)$', text, re.M)
    return {name: float(value) for name, value in found}


async def test_a_thousand_clients_with_the_same_token_hold_one_subgraph_subscription(
    router: tuple[ServerThread, RouterApp],
) -> None:
    server, _ = router
    async with GraphQLWebSocket(server, token="partner-a") as ws:
        await ws.subscribe(UPDATES, id="c0")
        await eventually(lambda: Seen.open_feeds["Bearer partner-a"] == 1)  # and the operation's plan cached
        for n in range(1, CLIENTS):
            await ws.subscribe(UPDATES, id=f"c{n}")
        held = await eventually(
            lambda: gauges(server), lambda g: g["myshop_router_subscription_upstream_clients"] == CLIENTS
        )
        entity_fetches = Seen.entity_fetches

        reached = await publish(server, "o1", "CONFIRMED")
        payloads = await ws.next_payloads(CLIENTS)

    assert held["myshop_router_subscription_upstreams_open"] == 1
    assert held["myshop_router_subscription_upstream_clients"] == CLIENTS
    assert reached == 1  # one feed on the subgraph
    assert payloads == [update("o1", "CONFIRMED")] * CLIENTS
    assert Seen.entity_fetches == entity_fetches + 1  # the event completed once, for all
    await eventually(lambda: Seen.open_feeds["Bearer partner-a"] == 0)
    left = await gauges(server)
    assert left["myshop_router_subscription_upstreams_open"] == 0
    assert left["myshop_router_subscription_upstream_clients"] == 0


async def test_clients_with_different_tokens_get_subgraph_subscriptions_of_their_own(
    router: tuple[ServerThread, RouterApp],
) -> None:
    server, _ = router
    async with (
        GraphQLWebSocket(server, token="partner-b") as b,
        GraphQLWebSocket(server, token="partner-c") as c,
    ):
        for ws in (b, c):
            await ws.subscribe(UPDATES, id="1")
            await ws.subscribe(UPDATES, id="2")
        await eventually(
            lambda: Seen.open_feeds["Bearer partner-b"] == Seen.open_feeds["Bearer partner-c"] == 1
        )
        held = await gauges(server)

        reached = await publish(server, "o2", "CANCELLED")

        assert await b.next_payloads(2) == await c.next_payloads(2) == [update("o2", "CANCELLED")] * 2
    assert held["myshop_router_subscription_upstreams_open"] == 2
    assert held["myshop_router_subscription_upstream_clients"] == 4
    assert reached == 2


async def test_a_late_joiner_gets_the_events_from_then_on_and_the_last_to_leave_closes_the_upstream(
    router: tuple[ServerThread, RouterApp],
) -> None:
    server, app = router
    shared = app.gateway.execution.shared  # type: ignore[attr-defined]
    async with GraphQLWebSocket(server, token="partner-d") as ws:
        await ws.subscribe(UPDATES, id="first")
        await eventually(lambda: Seen.open_feeds["Bearer partner-d"] == 1)
        await publish(server, "o3", "PENDING")
        assert (await ws.receive())["id"] == "first"

        await ws.subscribe(UPDATES, id="late")
        await eventually(lambda: shared.open_by_subgraph().get("orders") == (1, 2))
        await publish(server, "o3", "CONFIRMED")
        frames = [await ws.receive(), await ws.receive()]
        assert sorted(f["id"] for f in frames) == ["first", "late"]
        assert all(f["payload"] == update("o3", "CONFIRMED") for f in frames)

        await ws.send_json({"id": "first", "type": "complete"})
        await eventually(lambda: shared.open_by_subgraph().get("orders") == (1, 1))
        assert Seen.open_feeds["Bearer partner-d"] == 1  # the late joiner still holds it
        await ws.send_json({"id": "late", "type": "complete"})
        await eventually(lambda: Seen.open_feeds["Bearer partner-d"] == 0)
        assert shared.open_by_subgraph() == {}


async def test_an_upstream_failing_ends_every_client_with_the_same_error(
    router: tuple[ServerThread, RouterApp],
) -> None:
    server, app = router
    shared = app.gateway.execution.shared  # type: ignore[attr-defined]
    opened = shared.opened.get("orders", 0)
    async with GraphQLWebSocket(server, token="partner-e") as ws:
        await ws.subscribe("subscription { hangUp(delay: 0.3) }", id="1")
        await ws.subscribe("subscription { hangUp(delay: 0.3) }", id="2")
        frames = [await ws.receive() for _ in range(6)]

    for operation in ("1", "2"):
        mine = [f for f in frames if f["id"] == operation]
        assert [f["type"] for f in mine] == ["next", "next", "complete"]
        assert mine[0]["payload"] == {"data": {"hangUp": "bye"}}
        assert mine[1]["payload"]["errors"][0]["extensions"]["code"] == "SUBSCRIPTION_CONNECTION_LOST"
    assert shared.opened["orders"] == opened + 1


async def test_a_slow_client_is_let_go_and_the_others_go_on(gateway: Gateway) -> None:
    gateway.execution.shared.queue_size = 3
    reader = gateway.subscribe("subscription { ticks(pause: 0.005) }", headers={"authorization": "Bearer f"})
    idle = gateway.subscribe("subscription { ticks(pause: 0.005) }", headers={"authorization": "Bearer f"})
    assert reader is not None and idle is not None
    try:
        ticks = [(await anext(reader))["data"]["ticks"] for _ in range(10)]

        with pytest.raises(SlowConsumer):
            await anext(idle)
        assert ticks == [f"{n}:" for n in range(1, 11)]
        assert (await anext(reader))["data"]["ticks"] == "11:"
        assert gateway.execution.shared.open_by_subgraph() == {"orders": (1, 1)}
    finally:
        await idle.aclose()
        await reader.aclose()
    assert gateway.execution.shared.open_by_subgraph() == {}


@pytest.mark.parametrize(("dedup", "feeds"), [(True, 1), (False, 2)])
async def test_dedup_off_gives_each_client_its_own_subgraph_subscription(
    gateway: Gateway, dedup: bool, feeds: int
) -> None:
    gateway.execution.shared.enabled = dedup
    token = f"Bearer dedup-{dedup}"
    streams = [gateway.subscribe(UPDATES, headers={"authorization": token}) for _ in range(2)]
    firsts = [asyncio.create_task(anext(s)) for s in streams if s is not None]
    try:
        await eventually(lambda: Seen.open_feeds[token] == feeds)
        answer = await gateway.execute(PUBLISH, {"id": "o4", "s": "FAILED"})

        assert answer == {"data": {"setOrderStatus": feeds}}
        assert await asyncio.gather(*firsts) == [update("o4", "FAILED")] * 2
    finally:
        for stream in streams:
            assert stream is not None
            await stream.aclose()
    await eventually(lambda: Seen.open_feeds[token] == 0)


async def test_clients_share_when_the_headers_the_subgraphs_get_are_the_same(
    stand_ins: dict[str, ServerThread],
) -> None:
    rules = {"all": {"request": [{"propagate": {"named": "x-tenant"}}]}}
    gateway = Gateway.from_supergraph(
        supergraph(), subgraph_urls=urls(stand_ins), headers=HeaderPropagation(rules)
    )
    clients = [
        {"authorization": "Bearer g", "x-tenant": "a", "user-agent": "one", "x-request-id": "r1"},
        {"authorization": "Bearer g", "x-tenant": "a", "user-agent": "two", "x-request-id": "r2"},
        {"authorization": "Bearer g", "x-tenant": "b", "user-agent": "one", "x-request-id": "r3"},
        # The token goes in the subgraph socket's connection_init whatever the rules say.
        {"authorization": "Bearer h", "x-tenant": "a", "user-agent": "one", "x-request-id": "r4"},
    ]
    streams = [gateway.subscribe(UPDATES, headers=headers) for headers in clients]
    try:
        # user-agent and the request id are not sent to the subgraphs: the first two share.
        assert gateway.execution.shared.open_by_subgraph() == {"orders": (3, 4)}
    finally:
        for stream in streams:
            assert stream is not None
            await stream.aclose()
        await gateway.close()
    assert gateway.execution.shared.open_by_subgraph() == {}
