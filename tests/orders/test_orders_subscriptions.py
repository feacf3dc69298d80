"""Order subscriptions over a real WebSocket (graphql-transport-ws) to the orders subgraph: one order's story
(`orderStatusChanged`) and the resumable feed of every change (`orderUpdates`), with their authorization."""

from __future__ import annotations

import asyncio
import base64
import uuid
from typing import Any

from eventually import eventually
from orders_shop import CANCEL, Customer, Shop
from redis.asyncio import Redis
from ws_client import GraphQLWebSocket, codes

from shared.auth import RevocationStore

WATCH = "subscription W($id: ID!) { orderStatusChanged(orderId: $id) { __typename id status user { id } } }"
UPDATES = """
subscription U($after: String) {
  orderUpdates(after: $after) { cursor status previousStatus changedAt order { __typename id status } }
}"""
USER_ORDERS = """
query Mine($representations: [_Any!]!) {
  _entities(representations: $representations) { ... on User { orders { nodes { id status } } } }
}"""
SAGA = ["PENDING", "INVENTORY_RESERVED", "PAYMENT_AUTHORIZED", "CONFIRMED"]


def orders_url(shop: Shop) -> str:
    return shop.gql.stack.url("orders")


async def order_in_payment(shop: Shop, customer: Customer) -> tuple[str, asyncio.Task[Any]]:
    """An order held at its payment step (the sandbox's `tok_timeout` hangs 2.5 s, then approves)."""
    product = await shop.product(stock=5)
    placing = asyncio.create_task(shop.place(customer, [(product, 1)], method="tok_timeout"))

    async def mine() -> list[dict[str, Any]]:
        representations = [{"__typename": "User", "id": customer.id}]
        data = (
            await shop.gql("orders", USER_ORDERS, {"representations": representations}, token=customer.token)
        ).ok()
        return data["_entities"][0]["orders"]["nodes"]  # type: ignore[no-any-return]

    nodes = await eventually(
        mine, lambda nodes: nodes and nodes[0]["status"] == "INVENTORY_RESERVED", within=10,
        what="the order at its payment step",
    )  # fmt: skip
    return nodes[0]["id"], placing


async def nothing_more(ws: GraphQLWebSocket, seconds: float = 0.5) -> dict[str, Any] | None:
    """The next message if one comes within `seconds` (None: the subscription is quiet and still open)."""
    try:
        return await ws.receive(seconds=seconds)
    except TimeoutError:
        return None


async def confirmed_order(shop: Shop, customer: Customer) -> str:
    product = await shop.product(stock=5)
    return (await shop.place(customer, [(product, 1)])).ok()["placeOrder"]["id"]


# --- orderStatusChanged ---


async def test_customer_sees_each_status_of_their_order_in_order(shop: Shop) -> None:
    # Given an order of this customer waiting for its payment
    customer = shop.customer()
    order_id, placing = await order_in_payment(shop, customer)

    # When the customer subscribes to it
    async with GraphQLWebSocket(orders_url(shop), token=customer.token) as ws:
        await ws.subscribe(WATCH, {"id": order_id})
        payloads = await ws.next_payloads(4, seconds=20)
        after = await nothing_more(ws)

    # Then they see every status once, in order (the first ones from its history, the rest as they happen),
    # each event being the order at that status, and the subscription stays open for the order's shipments
    assert after is None
    events = [payload["data"]["orderStatusChanged"] for payload in payloads]
    assert [event["status"] for event in events] == SAGA
    assert {(event["__typename"], event["id"], event["user"]["id"]) for event in events} == {
        ("Order", order_id, customer.id)
    }
    assert (await placing).ok()["placeOrder"]["status"] == "CONFIRMED"


async def test_a_confirmed_order_replays_its_history_and_stays_open_for_its_shipments(shop: Shop) -> None:
    customer = shop.customer()
    order_id = await confirmed_order(shop, customer)

    async with GraphQLWebSocket(orders_url(shop), token=customer.token) as ws:
        await ws.subscribe(WATCH, {"id": order_id})
        payloads = await ws.next_payloads(4)
        after = await nothing_more(ws)

    assert [payload["data"]["orderStatusChanged"]["status"] for payload in payloads] == SAGA
    assert after is None


async def test_a_cancelled_order_replays_its_history_and_completes(shop: Shop) -> None:
    customer = shop.customer()
    order_id = await confirmed_order(shop, customer)
    (await shop.gql("orders", CANCEL, {"id": order_id}, token=customer.token)).ok()

    async with GraphQLWebSocket(orders_url(shop), token=customer.token) as ws:
        await ws.subscribe(WATCH, {"id": order_id})
        messages = await ws.until_complete()

    assert [m["payload"]["data"]["orderStatusChanged"]["status"] for m in messages[:-1]] == [
        *SAGA,
        "CANCELLED",
    ]
    assert messages[-1]["type"] == "complete"


async def test_another_customer_is_refused_forbidden(shop: Shop) -> None:
    order_id = await confirmed_order(shop, shop.customer())

    async with GraphQLWebSocket(orders_url(shop), token=shop.customer().token) as ws:
        await ws.subscribe(WATCH, {"id": order_id})
        messages = await ws.until_complete()

    assert [(m["type"], codes(m)) for m in messages] == [("error", ["FORBIDDEN"])]


async def test_an_unknown_order_is_not_found(shop: Shop) -> None:
    async with GraphQLWebSocket(orders_url(shop), token=shop.customer().token) as ws:
        await ws.subscribe(WATCH, {"id": str(uuid.uuid4())})
        messages = await ws.until_complete()

    assert [(m["type"], codes(m)) for m in messages] == [("error", ["NOT_FOUND"])]


async def test_anonymous_subscriber_is_unauthenticated(shop: Shop) -> None:
    order_id = await confirmed_order(shop, shop.customer())

    async with GraphQLWebSocket(orders_url(shop)) as ws:
        await ws.subscribe(WATCH, {"id": order_id})
        messages = await ws.until_complete()

    assert [(m["type"], codes(m)) for m in messages] == [("error", ["UNAUTHENTICATED"])]


async def test_token_in_the_upgrade_header_is_accepted(shop: Shop) -> None:
    customer = shop.customer()
    order_id = await confirmed_order(shop, customer)

    headers = {"Authorization": f"Bearer {customer.token}"}
    async with GraphQLWebSocket(orders_url(shop), headers=headers) as ws:
        await ws.subscribe(WATCH, {"id": order_id})
        payloads = await ws.next_payloads(4)

    assert [payload["data"]["orderStatusChanged"]["status"] for payload in payloads] == SAGA


async def test_connection_init_authorization_key_is_case_insensitive(shop: Shop) -> None:
    customer = shop.customer()
    order_id = await confirmed_order(shop, customer)

    async with GraphQLWebSocket(
        orders_url(shop), payload={"authorization": f"Bearer {customer.token}"}
    ) as ws:
        await ws.subscribe(WATCH, {"id": order_id})
        payloads = await ws.next_payloads(4)

    assert [payload["data"]["orderStatusChanged"]["status"] for payload in payloads] == SAGA


# --- orderUpdates ---


def partner(shop: Shop) -> str:
    return shop.issuer.issue(str(uuid.uuid4()), ["PARTNER"]).token


# Orders whose 4 statuses each the partner's feed follows, cut in the middle. 10 (placed all at once)
# interleave as 25 did, at 40% of the sagas.
FEED_ORDERS = 10


async def test_updates_resumed_from_a_cursor_deliver_exactly_the_rest(shop: Shop) -> None:
    # Given a partner's feed that started before 10 orders went through their 4 statuses (40 changes)
    token = partner(shop)
    product = await shop.product(stock=100)
    customers = [shop.customer() for _ in range(5)]
    async with GraphQLWebSocket(orders_url(shop), token=token) as ws:
        await ws.subscribe(UPDATES)
        # ("from now on": once a first order's updates arrive, the feed is surely listening)
        (await shop.place(customers[0], [(product, 1)])).ok()
        await ws.next_payloads(4)
        placed = await asyncio.gather(
            *(shop.place(customers[i % 5], [(product, 1)]) for i in range(FEED_ORDERS))
        )
        order_ids = {response.ok()["placeOrder"]["id"] for response in placed}
        # When the partner's connection dies after half the updates
        first = [p["data"]["orderUpdates"] for p in await ws.next_payloads(2 * FEED_ORDERS)]

    # and it resumes from the last cursor it got
    async with GraphQLWebSocket(orders_url(shop), token=token) as ws:
        await ws.subscribe(UPDATES, {"after": first[-1]["cursor"]})
        rest = [p["data"]["orderUpdates"] for p in await ws.next_payloads(2 * FEED_ORDERS)]
        # (and nothing more comes)
        try:
            extra = await ws.receive(seconds=1.0)
        except TimeoutError:
            extra = None

    # Then together they are every change exactly once, each order's in saga order
    assert extra is None
    updates = first + rest
    seen = [(u["order"]["id"], u["status"]) for u in updates]
    assert len(seen) == len(set(seen)) == 4 * FEED_ORDERS
    assert {order_id for order_id, _ in seen} == order_ids
    for order_id in order_ids:
        assert [status for oid, status in seen if oid == order_id] == SAGA
    assert all(u["order"]["status"] == u["status"] for u in updates)
    assert [u["previousStatus"] for u in updates if u["status"] == "PENDING"] == [None] * FEED_ORDERS


async def test_a_malformed_cursor_is_bad_user_input(shop: Shop) -> None:
    async with GraphQLWebSocket(orders_url(shop), token=partner(shop)) as ws:
        await ws.subscribe(UPDATES, {"after": base64.urlsafe_b64encode(b"not-an-id").decode()})
        messages = await ws.until_complete()

    assert [(m["type"], codes(m)) for m in messages] == [("error", ["BAD_USER_INPUT"])]


async def test_a_customer_is_refused_order_updates(shop: Shop) -> None:
    async with GraphQLWebSocket(orders_url(shop), token=shop.customer().token) as ws:
        await ws.subscribe(UPDATES)
        messages = await ws.until_complete()

    assert [(m["type"], codes(m)) for m in messages] == [("error", ["FORBIDDEN"])]


async def test_a_revoked_token_ends_the_subscription(shop: Shop, redis: Redis) -> None:
    # Given a partner following the feed
    subject = str(uuid.uuid4())
    token = shop.issuer.issue(subject, ["PARTNER"]).token
    product = await shop.product(stock=5)
    async with GraphQLWebSocket(orders_url(shop), token=token) as ws:
        await ws.subscribe(UPDATES)
        (await shop.place(shop.customer(), [(product, 1)])).ok()
        assert len(await ws.next_payloads(4)) == 4

        # When their tokens are revoked (a role change revokes every token of the user)
        revocations = RevocationStore(redis, shop.gql.stack.settings["orders"].redis_prefix)
        await revocations.revoke_user(subject, keep_seconds=900)
        await asyncio.sleep(1.1)  # past the once-a-second revocation check
        (await shop.place(shop.customer(), [(product, 1)])).ok()

        # Then the subscription ends with UNAUTHENTICATED instead of delivering the next change
        messages = await ws.until_complete()

    assert [(m["type"], codes(m)) for m in messages] == [("next", ["UNAUTHENTICATED"]), ("complete", [])]
