"""The acceptance of issue 18's webhooks: a receiver taken down for OUTAGE_SECONDS while 20 orders are placed
through the stack receives, once it is back, every event of those orders, none twice (by event id), in order
per order, each verified by the documented snippet."""

from __future__ import annotations

import asyncio
import time
import uuid
from collections import defaultdict
from typing import Any

import pytest
from eventually import eventually
from notifications_shop import Shop
from webhook_receiver import Receiver, WebhookApi, webhook_verify

from shared.outbox import Event
from subgraphs.notifications.webhooks_events import ALLOWED_EVENTS

# The issue's outage; the whole test takes about this plus 10 s. (10 s with retries capped at 1 s was tried:
# at the end of a loaded CI run the events of the 20 orders then did not all reach the receiver in 20 s.)
OUTAGE_SECONDS = 30.0
ORDERS = 20


async def events_of(shop: Shop, order_ids: set[str]) -> dict[str, Event]:
    """Every allow-listed event of these orders on the streams (what the webhook must receive), by id."""
    found = {}
    for producer in ("orders", "payments"):
        for _, fields in await shop.redis.xrange(shop.stream(producer)):
            event = Event.from_fields(fields)
            if event.type in ALLOWED_EVENTS and event.payload.get("orderId") in order_ids:
                found[str(event.id)] = event
    return found


async def undelivered(shop: Shop, webhook_id: str) -> int:
    rows = await shop.rows(
        "SELECT count(*) AS n FROM webhook_deliveries WHERE endpoint_id = :id AND status <> 'DELIVERED'",
        id=uuid.UUID(webhook_id),
    )
    return int(rows[0]["n"])


async def test_a_receiver_down_while_20_orders_are_placed_gets_every_event_once_and_in_order_after(
    api: Any, shop: Shop, gql: Any, issuer: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Retries at most 2 s apart, never DEAD within the outage.
    settings = api.settings["notifications"]
    for name, value in {
        "webhook_poll_seconds": 0.05,
        "webhook_retry_initial_seconds": 0.25,
        "webhook_retry_max_seconds": 2.0,
        "webhook_max_attempts": 10_000,
    }.items():
        monkeypatch.setattr(settings, name, value)
    hooks = WebhookApi(gql)
    receiver = Receiver()  # not started: its port refuses connections
    partner = issuer.issue(str(uuid.uuid4()), ["PARTNER"]).token
    webhook_id, secret = await hooks.created(partner, receiver.url(), ["*"])
    customer = await shop.customer()
    products = [await shop.product(stock=100) for _ in range(2)]

    # Given the receiver down, when 20 orders are placed
    down_at = time.monotonic()
    order_ids = set()
    for n in range(ORDERS):
        placed = await shop.place(customer, [(products[n % 2], 1), (products[(n + 1) % 2], 2)])
        order_ids.add(placed["data"]["placeOrder"]["id"])
    expected = await eventually(
        lambda: events_of(shop, order_ids), lambda found: len(found) >= 6 * ORDERS, what="the orders' events"
    )
    await asyncio.sleep(max(0.0, OUTAGE_SECONDS - (time.monotonic() - down_at)))
    failed = await shop.rows("SELECT count(*) AS n FROM webhook_attempts WHERE error IS NOT NULL")
    assert failed[0]["n"] > 0  # it was tried while down

    # Then, once it is back, every event arrives
    await receiver.start()
    try:
        # 120 events delivered in order, one at a time, after a wait of up to the 2 s retry cap: seconds on a
        # quiet machine, over 20 s at the end of a loaded CI run (its speed is not what this asserts).
        await eventually(
            lambda: len(receiver.accepted) >= len(expected), within=60, what="every event at the receiver"
        )
        # The dispatcher records a delivery after the receiver's answer: on a loaded machine (a whole run,
        # load 14) the last 20 were still PENDING half a second later. Until recorded the receiver stays up
        # (a retry meanwhile would show as a duplicate), then room for a late duplicate to show.
        await eventually(
            lambda: undelivered(shop, webhook_id),
            lambda left: left == 0,
            within=20,
            what="every delivery recorded",
        )
        await asyncio.sleep(0.5)
    finally:
        await receiver.stop()

    received = []
    for request in receiver.accepted:
        webhook_verify.verify(request.body, request.headers["MyShop-Signature"], secret)
        received.append(request.event)
    ids = [event["id"] for event in received]
    # ... none twice, and none missing
    assert len(ids) == len(set(ids))
    assert set(ids) == set(expected)
    # ... in order per order (the order they happened in)
    per_order: dict[str, list[str]] = defaultdict(list)
    for event in received:
        per_order[event["data"]["orderId"]].append(event["occurredAt"])
    assert set(per_order) == order_ids
    for order_id, times in per_order.items():
        assert times == sorted(times), order_id
    statuses = await shop.rows(
        "SELECT status, count(*) AS n FROM webhook_deliveries WHERE endpoint_id = :id GROUP BY status",
        id=uuid.UUID(webhook_id),
    )
    assert statuses == [{"status": "DELIVERED", "n": len(expected)}]
