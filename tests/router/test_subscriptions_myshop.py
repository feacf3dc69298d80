"""Order subscriptions end to end through the router over MyShop's supergraph and the real stack: a customer
follows their order over WebSocket and SSE with fields from users, payments and products filled in, another
customer is refused, and a partner's feed resumed from its cursor misses nothing and repeats nothing."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import aiohttp
import httpx
import orjson
import pytest
from eventually import eventually
from subscription_client import sse_events
from ws_client import connect

from shared.testing import ServerThread

SUPERGRAPH = (Path(__file__).resolve().parents[2] / "schema" / "supergraph.graphql").read_text()
SAGA = ["PENDING", "INVENTORY_RESERVED", "PAYMENT_AUTHORIZED", "CONFIRMED"]

WATCH = """
subscription Watch($id: ID!) {
  orderStatusChanged(orderId: $id) { status user { email } payment { status } items { product { name } } }
}"""
UPDATES = """
subscription Updates($after: String) {
  orderUpdates(after: $after) { cursor status previousStatus order { id status } }
}"""
REGISTER = "mutation($input: RegisterInput!) { register(input: $input) { email } }"
LOGIN = "mutation($e: String!, $p: String!) { login(email: $e, password: $p) { accessToken } }"
CREATE = "mutation($input: CreateProductInput!) { createProduct(input: $input) { id name } }"
ADJUST = 'mutation($id: ID!, $n: Int!) { adjustStock(productId: $id, delta: $n, reason: "test") { id } }'
PLACE = "mutation($input: PlaceOrderInput!) { placeOrder(input: $input) { id status } }"
MY_ORDERS = "{ me { orders(first: 1) { nodes { id status } } } }"
CANCEL = "mutation($id: ID!) { cancelOrder(id: $id) { status } }"


@pytest.fixture(scope="module")
def router(stack: Any, start_router: Any) -> ServerThread:
    return start_router(
        SUPERGRAPH,
        subgraph_urls={name: f"{server.url}/graphql" for name, server in stack.servers.items()},
        jwks_url=f"{stack.url('users')}/.well-known/jwks.json",
    )


@pytest.fixture
async def http() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession() as session:
        yield session


class Shop:
    """Arranges through the router what the tests need: customers, a product in stock, orders."""

    def __init__(self, router: ServerThread, issuer: Any) -> None:
        self.url = f"{router.url}/graphql"
        self.admin = issuer.issue(str(uuid.uuid4()), ["ADMIN"]).token
        self.issuer = issuer

    async def ask(self, query: str, variables: dict[str, Any], token: str) -> dict[str, Any]:
        async with httpx.AsyncClient(timeout=30) as client:
            response = await client.post(
                self.url,
                json={"query": query, "variables": variables},
                headers={"authorization": f"Bearer {token}"},
            )
        body = response.json()
        assert "errors" not in body, body
        return body["data"]  # type: ignore[no-any-return]

    async def customer(self) -> tuple[str, str]:
        """(email, token) of a newly registered customer."""
        email = f"sub-{uuid.uuid4().hex[:10]}@example.com"
        variables = {"input": {"email": email, "password": "correct horse battery", "name": "Subscriber"}}
        async with httpx.AsyncClient(timeout=30) as client:
            await client.post(self.url, json={"query": REGISTER, "variables": variables})
            login = {"e": email, "p": "correct horse battery"}
            response = await client.post(self.url, json={"query": LOGIN, "variables": login})
        return email, response.json()["data"]["login"]["accessToken"]

    async def product(self, stock: int) -> tuple[str, str]:
        sku = f"SUB-{uuid.uuid4().hex[:8].upper()}"
        product = {"sku": sku, "name": f"Subscribed {sku}", "description": "",
                   "price": {"amount": 990, "currency": "USD"}, "category": "Tests"}  # fmt: skip
        created = (await self.ask(CREATE, {"input": product}, self.admin))["createProduct"]
        await self.ask(ADJUST, {"id": created["id"], "n": stock}, self.admin)
        return created["id"], created["name"]

    async def place(self, token: str, product_id: str, method: str = "tok_approve") -> dict[str, Any]:
        order = {"items": [{"productId": product_id, "quantity": 1}], "paymentMethod": method,
                 "idempotencyKey": uuid.uuid4().hex}  # fmt: skip
        return (await self.ask(PLACE, {"input": order}, token))["placeOrder"]  # type: ignore[no-any-return]

    async def order_in_payment(self, token: str, product_id: str) -> tuple[str, asyncio.Task[Any]]:
        """An order held at its payment step (the sandbox's `tok_timeout` hangs, then approves)."""
        placing = asyncio.create_task(self.place(token, product_id, "tok_timeout"))

        async def mine() -> list[dict[str, Any]]:
            return (await self.ask(MY_ORDERS, {}, token))["me"]["orders"]["nodes"]  # type: ignore[no-any-return]

        nodes = await eventually(
            mine, lambda nodes: nodes and nodes[0]["status"] == "INVENTORY_RESERVED", within=10,
            what="the order at its payment step",
        )  # fmt: skip
        return nodes[0]["id"], placing


@pytest.fixture
def shop(router: ServerThread, issuer: Any) -> Shop:
    return Shop(router, issuer)


def check_story(events: list[dict[str, Any]], email: str, product_name: str) -> None:
    assert [e["status"] for e in events] == SAGA
    assert {e["user"]["email"] for e in events} == {email}
    assert {e["items"][0]["product"]["name"] for e in events} == {product_name}
    assert events[-1]["payment"] is not None and events[-1]["payment"]["status"]


async def test_customer_follows_their_order_over_websocket_with_fields_of_every_subgraph(
    router: ServerThread, shop: Shop, http: aiohttp.ClientSession
) -> None:
    email, token = await shop.customer()
    product_id, name = await shop.product(stock=5)
    order_id, placing = await shop.order_in_payment(token, product_id)

    ws = await connect(http, router, {"Authorization": f"Bearer {token}"})
    await ws.send_json(
        {"id": "1", "type": "subscribe", "payload": {"query": WATCH, "variables": {"id": order_id}}}
    )
    payloads = await ws.next_payloads(4, seconds=20)  # (it stays open for the order's shipments)
    await ws.close()

    assert all("errors" not in payload for payload in payloads), payloads
    check_story([payload["data"]["orderStatusChanged"] for payload in payloads], email, name)
    assert (await placing)["status"] == "CONFIRMED"


async def test_customer_follows_their_order_over_server_sent_events(router: ServerThread, shop: Shop) -> None:
    email, token = await shop.customer()
    product_id, name = await shop.product(stock=5)
    order_id, placing = await shop.order_in_payment(token, product_id)

    async def follow() -> httpx.Response:
        async with httpx.AsyncClient(timeout=30) as client:
            return await client.post(
                f"{router.url}/graphql",
                json={"query": WATCH, "variables": {"id": order_id}},
                headers={"accept": "text/event-stream", "authorization": f"Bearer {token}"},
            )

    following = asyncio.create_task(follow())
    assert (await placing)["status"] == "CONFIRMED"
    # A confirmed order's story goes on (to its shipments): its cancellation ends it.
    await shop.ask(CANCEL, {"id": order_id}, token)

    events = sse_events((await following).text)
    assert [kind for kind, _ in events] == ["next"] * 5 + ["complete"]
    story = [orjson.loads(data)["data"]["orderStatusChanged"] for _, data in events[:5]]
    check_story(story[:4], email, name)
    assert story[4]["status"] == "CANCELLED"


async def test_another_customer_is_refused_forbidden(
    router: ServerThread, shop: Shop, http: aiohttp.ClientSession
) -> None:
    _, owner = await shop.customer()
    _, stranger = await shop.customer()
    product_id, _ = await shop.product(stock=5)
    order_id = (await shop.place(owner, product_id))["id"]

    ws = await connect(http, router, {"Authorization": f"Bearer {stranger}"})
    await ws.send_json(
        {"id": "1", "type": "subscribe", "payload": {"query": WATCH, "variables": {"id": order_id}}}
    )
    frames = await ws.until_complete("1")
    await ws.close()

    assert [(f["type"], [e["extensions"]["code"] for e in f["payload"]]) for f in frames] == [
        ("error", ["FORBIDDEN"])
    ]


# Rounds of 5 orders (the test stack's PostgreSQL has connections for a few sagas at once) whose 4 statuses
# each the partner's feed follows, cut in the middle: 2 rounds interleave as 5 did, at 40% of the sagas.
FEED_ROUNDS = 2


async def test_partner_feed_resumed_from_its_cursor_gets_exactly_the_other_half(
    router: ServerThread, shop: Shop, http: aiohttp.ClientSession
) -> None:
    # Given a partner's feed listening before 10 orders go through their 4 statuses (40 changes)
    partner = shop.issuer.issue(str(uuid.uuid4()), ["PARTNER"]).token
    product_id, _ = await shop.product(stock=100)
    customers = [(await shop.customer())[1] for _ in range(5)]
    ws = await connect(http, router, {"Authorization": f"Bearer {partner}"})
    await ws.send_json({"id": "feed", "type": "subscribe", "payload": {"query": UPDATES}})
    await asyncio.sleep(0.3)  # the feed is listening ("from now on")
    placed = []
    for _ in range(FEED_ROUNDS):
        placed += await asyncio.gather(*(shop.place(customer, product_id) for customer in customers))
    order_ids = {order["id"] for order in placed}
    half = 2 * len(placed)
    # When its connection dies after half the updates
    first = [(await ws.receive(seconds=20))["payload"]["data"]["orderUpdates"] for _ in range(half)]
    await ws.close()

    # and it resumes from the last cursor it got
    ws = await connect(http, router, {"Authorization": f"Bearer {partner}"})
    after = {"after": first[-1]["cursor"]}
    await ws.send_json({"id": "feed", "type": "subscribe", "payload": {"query": UPDATES, "variables": after}})
    rest = [(await ws.receive(seconds=20))["payload"]["data"]["orderUpdates"] for _ in range(half)]
    try:
        extra: Any = await ws.receive(seconds=1.0)
    except TimeoutError:
        extra = None
    await ws.close()

    # Then together they are every change exactly once, each order's in saga order
    assert extra is None
    seen = [(u["order"]["id"], u["status"]) for u in first + rest]
    assert len(seen) == len(set(seen)) == 4 * len(placed) == 40
    assert {order_id for order_id, _ in seen} == order_ids
    for order_id in order_ids:
        assert [status for oid, status in seen if oid == order_id] == SAGA
