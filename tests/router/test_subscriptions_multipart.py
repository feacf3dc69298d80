"""Multipart HTTP subscriptions (Apollo's `subscriptionSpec=1.0`) through the router over real sockets: the
raw body read part by part, the heartbeat, transport errors and the subgraph's own, the edge's refusals, a
query answered as JSON, and the subgraph subscription ended when the client goes away or cannot keep up."""

from __future__ import annotations

import asyncio
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import orjson
import pytest
from edge_headers import OPS, PREFLIGHT
from eventually import eventually
from subscription_standin import REPO, Seen, order_subgraphs, supergraph, urls

from router.config import RouterConfig
from router.http.app import RouterApp
from router.server import build_gateway, create_app
from shared.testing import ServerThread

APOLLO_ACCEPT = 'multipart/mixed;boundary="graphql";subscriptionSpec=1.0,application/json'
CONTENT_TYPE = 'multipart/mixed;boundary="graphql";subscriptionSpec=1.0'
CLIENT = Path(__file__).with_name("subscription_multipart_client.mjs")
DELIMITER = b"\r\n--graphql"
END = DELIMITER + b"--\r\n"


def parts(body: bytes) -> list[Any]:
    """The JSON parts of a multipart body (each part's header checked), up to the closing delimiter."""
    out = []
    for chunk in body.split(DELIMITER)[1:]:
        if chunk.startswith(b"--"):
            break
        head, sep, payload = chunk.partition(b"\r\n\r\n")
        assert sep and head.strip().lower() == b"content-type: application/json; charset=utf-8", chunk
        out.append(orjson.loads(payload))
    return out


def start(servers: dict[str, ServerThread], **settings: Any) -> tuple[ServerThread, RouterApp]:
    config = RouterConfig(graphiql=False, subgraph_urls=urls(servers), **settings)
    app = create_app(build_gateway(supergraph(), config), config)
    return ServerThread(app).start(), app


@pytest.fixture(scope="module")
def stand_ins() -> Iterator[dict[str, ServerThread]]:
    with order_subgraphs() as started:
        yield started


@pytest.fixture(scope="module")
def router(stand_ins: dict[str, ServerThread]) -> Iterator[tuple[ServerThread, RouterApp]]:
    server, app = start(stand_ins, multipart_heartbeat_seconds=0.1, max_body_bytes=4096)
    yield server, app
    server.stop()


async def subscribe(router: ServerThread, query: str, **request: Any) -> httpx.Response:
    """The whole answer of a subscription that ends by itself."""
    async with httpx.AsyncClient(timeout=10) as client:
        return await client.post(
            router.url + "/graphql", json={"query": query, **request}, headers={"accept": APOLLO_ACCEPT}
        )


async def test_each_event_is_a_payload_part_and_the_stream_ends_with_the_closing_delimiter(
    router: tuple[ServerThread, RouterApp],
) -> None:
    response = await subscribe(router[0], "subscription { ticks(count: 3) }")

    assert response.status_code == 200
    assert response.headers["content-type"] == CONTENT_TYPE
    assert response.content.endswith(END)
    events = [p for p in parts(response.content) if p != {}]  # heartbeats aside
    assert events == [{"payload": {"data": {"ticks": f"{n}:"}}} for n in (1, 2, 3)]


async def test_a_heartbeat_part_goes_out_while_no_event_comes(router: tuple[ServerThread, RouterApp]) -> None:
    seen = b""
    async with httpx.AsyncClient(timeout=10) as client:
        async with client.stream(
            "POST",
            router[0].url + "/graphql",
            json={"query": "subscription { ticks(pause: 5.0) }"},
            headers={"accept": APOLLO_ACCEPT},
        ) as stream:
            async for chunk in stream.aiter_bytes():
                seen += chunk
                if _beats_after_first_tick(parts(seen)) >= 2:
                    break

    received = parts(seen)
    # A heartbeat may come before the first event on a slow machine; two come in the 5 s gap after it.
    first = received.index(TICK)
    assert received[first + 1 : first + 3] == [{}, {}]
    assert [p for p in received if p != {}] == [TICK]


TICK = {"payload": {"data": {"ticks": "1:"}}}


def _beats_after_first_tick(received: list) -> int:
    return received[received.index(TICK) + 1 :].count({}) if TICK in received else 0


async def test_a_lost_subgraph_connection_is_a_transport_error_part_then_the_end(
    router: tuple[ServerThread, RouterApp],
) -> None:
    response = await subscribe(router[0], "subscription { hangUp }")

    received = [p for p in parts(response.content) if p != {}]
    assert received[0] == {"payload": {"data": {"hangUp": "bye"}}}
    assert received[1]["payload"] is None
    assert [e["extensions"]["code"] for e in received[1]["errors"]] == ["SUBSCRIPTION_CONNECTION_LOST"]
    assert len(received) == 2 and response.content.endswith(END)


async def test_the_subgraph_refusing_the_subscription_answers_its_errors_in_the_payload(
    router: tuple[ServerThread, RouterApp],
) -> None:
    response = await subscribe(router[0], "subscription { forbidden }")

    received = [p for p in parts(response.content) if p != {}]
    assert [e["extensions"]["code"] for e in received[0]["payload"]["errors"]] == ["FORBIDDEN"]
    assert received[0]["payload"]["data"] is None
    assert len(received) == 1 and response.content.endswith(END)


@pytest.mark.parametrize(
    ("query", "status", "code"),
    [
        ("subscription { nope }", 200, "GRAPHQL_VALIDATION_FAILED"),  # application/json: 200 as over HTTP
        ("subscription { ticks(size: 1) " + "#" * 5000 + "}", 413, "PAYLOAD_TOO_LARGE"),
    ],
)
async def test_a_refused_subscription_answers_json_with_its_code(
    router: tuple[ServerThread, RouterApp], query: str, status: int, code: str
) -> None:
    response = await subscribe(router[0], query)

    assert response.headers["content-type"].startswith("application/json")
    assert response.status_code == status
    assert response.json()["errors"][0]["extensions"]["code"] == code


async def test_a_subscription_may_come_as_a_get_past_csrf_prevention(
    router: tuple[ServerThread, RouterApp],
) -> None:
    async with httpx.AsyncClient(timeout=10) as client:
        refused = await client.get(
            router[0].url + "/graphql",
            params={"query": "subscription { ticks(count: 1) }"},
            headers={"accept": APOLLO_ACCEPT},
        )
        response = await client.get(
            router[0].url + "/graphql",
            params={"query": "subscription { ticks(count: 1) }"},
            headers={"accept": APOLLO_ACCEPT, **PREFLIGHT},
        )

    assert refused.status_code == 400 and refused.json()["errors"][0]["extensions"]["code"] == "CSRF_ERROR"
    assert [p for p in parts(response.content) if p != {}] == [{"payload": {"data": {"ticks": "1:"}}}]


async def test_a_query_with_the_multipart_accept_is_answered_as_json(
    router: tuple[ServerThread, RouterApp],
) -> None:
    response = await subscribe(router[0], '{ order(id: "o1") { status user { email } } }')

    assert response.status_code == 200
    assert response.headers["content-type"].startswith("application/json")
    assert response.json() == {
        "data": {"order": {"status": "PENDING", "user": {"email": "owner-o1@example.com"}}}
    }


async def test_the_client_leaving_ends_the_subgraph_subscription_and_the_metrics_count_it(
    router: tuple[ServerThread, RouterApp],
) -> None:
    server, app = router
    async with httpx.AsyncClient(timeout=10) as client:
        async with client.stream(
            "POST",
            server.url + "/graphql",
            json={"query": "subscription { ticks(pause: 0.01) }"},
            headers={"accept": APOLLO_ACCEPT},
        ) as stream:
            async for chunk in stream.aiter_bytes():
                if b"payload" in chunk:
                    break
            metrics = (await client.get(server.url + "/metrics", headers=OPS)).text

    assert 'myshop_router_subscriptions_open{transport="multipart"} 1.0' in metrics
    assert 'myshop_router_subscription_upstreams_open{subgraph="orders"} 1.0' in metrics
    await eventually(lambda: app.subscriptions.open["multipart"] == 0)
    await eventually(lambda: app.gateway.execution.shared.open_by_subgraph() == {})  # type: ignore[attr-defined]
    assert app.subscriptions.ended[("multipart", "disconnect")] >= 1


async def test_a_client_that_does_not_read_is_let_go(stand_ins: dict[str, ServerThread]) -> None:
    server, app = start(stand_ins, subscription_send_buffer=4)
    try:
        body = orjson.dumps({"query": "subscription { ticks(size: 65536) }"})
        _, writer = await asyncio.open_connection("127.0.0.1", server.port)
        writer.write(
            b"POST /graphql HTTP/1.1\r\nhost: router\r\ncontent-type: application/json\r\n"
            b"accept: " + APOLLO_ACCEPT.encode() + b"\r\ncontent-length: %d\r\n\r\n" % len(body) + body
        )
        await writer.drain()  # and never read

        await eventually(lambda: app.subscriptions.ended.get(("multipart", "slow_consumer")) == 1, within=20)

        assert app.subscriptions.open["multipart"] == 0
        await eventually(lambda: app.gateway.execution.shared.open_by_subgraph() == {})  # type: ignore[attr-defined]
        writer.close()
    finally:
        server.stop()


@pytest.mark.skipif(
    not shutil.which("node") or not (REPO / "node_modules" / "@apollo" / "client").exists(),
    reason="needs node and `npm ci` (@apollo/client)",
)
async def test_apollo_clients_http_link_receives_order_status_updates(
    router: tuple[ServerThread, RouterApp],
) -> None:
    server, _ = router
    client = await asyncio.create_subprocess_exec(
        "node", str(CLIENT), f"{server.url}/graphql", "apollo-partner", "2",
        stdout=asyncio.subprocess.PIPE, cwd=REPO,
    )  # fmt: skip
    try:
        await eventually(lambda: Seen.open_feeds["Bearer apollo-partner"] == 1, within=20)
        async with httpx.AsyncClient(timeout=10) as http:
            for status in ("PAYMENT_AUTHORIZED", "CONFIRMED"):
                await http.post(
                    server.url + "/graphql",
                    json={"query": f'mutation {{ setOrderStatus(orderId: "o7", status: "{status}") }}'},
                )
        out, _ = await asyncio.wait_for(client.communicate(), 20)
    finally:
        if client.returncode is None:
            client.kill()
            await client.wait()

    answer = orjson.loads(out)
    assert answer["errors"] == []
    assert "subscriptionSpec=1.0" in answer["accept"]
    order = {
        "__typename": "Order",
        "id": "o7",
        "user": {"__typename": "User", "email": "owner-o7@example.com"},
    }
    assert answer["events"] == [
        {"orderUpdates": {"__typename": "OrderUpdate", "status": status, "order": order}}
        for status in ("PAYMENT_AUTHORIZED", "CONFIRMED")
    ]
    await eventually(lambda: Seen.open_feeds["Bearer apollo-partner"] == 0)  # unsubscribing ended it
