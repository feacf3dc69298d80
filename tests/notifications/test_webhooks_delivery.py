"""Webhook deliveries from real events through the stack to a real receiver on loopback: every event of an
order arrives signed (the documented snippet verifies it), once, in order; a rotated secret signs beside the
new one; a receiver answering 500 forever ends in dead letters, a disabled endpoint and a mail to its owner,
and after the fix, enabling and a replay deliver everything once; production refuses a loopback target at
delivery time too."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from typing import Any

import pytest
from eventually import eventually
from notifications_shop import Shop
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession
from webhook_receiver import (
    ENABLE,
    REPLAY_ALL,
    REPLAY_ONE,
    ROTATE,
    WEBHOOK,
    Receiver,
    WebhookApi,
    webhook_verify,
)

from subgraphs.notifications import webhooks_repository

ORDER_EVENTS = {"OrderPlaced", "OrderStatusChanged", "PaymentProcessed", "OrderConfirmed"}


@pytest.fixture
def hooks(gql: Any, api: Any, monkeypatch: pytest.MonkeyPatch) -> WebhookApi:
    """The webhook API, with the dispatcher's timings cut to tenths of seconds (3 tries, then DEAD; 3 DEAD in
    a row disable the endpoint)."""
    settings = api.settings["notifications"]
    for name, value in {
        "webhook_poll_seconds": 0.05,
        "webhook_retry_initial_seconds": 0.1,
        "webhook_retry_max_seconds": 0.3,
        "webhook_max_attempts": 3,
        "webhook_disable_after_dead": 3,
        "webhook_timeout_seconds": 3.0,
    }.items():
        monkeypatch.setattr(settings, name, value)
    return WebhookApi(gql)


@pytest.fixture
async def receiver() -> AsyncIterator[Receiver]:
    receiver = await Receiver().start()
    yield receiver
    await receiver.stop()


def verified(receiver: Receiver, secret: str) -> list[dict[str, Any]]:
    """The events the receiver accepted, each checked with the documented snippet and its headers."""
    events = []
    for request in receiver.accepted:
        webhook_verify.verify(request.body, request.headers["MyShop-Signature"], secret)
        event = request.event
        assert request.headers["MyShop-Event-Id"] == event["id"]
        assert set(event) == {"id", "type", "producer", "occurredAt", "data"}
        events.append(event)
    return events


async def test_every_event_of_an_order_arrives_signed_once_and_in_order(
    shop: Shop, hooks: WebhookApi, receiver: Receiver, issuer: Any
) -> None:
    # Given a partner's webhook for every event
    partner = issuer.issue(str(uuid.uuid4()), ["PARTNER"]).token
    webhook_id, secret = await hooks.created(partner, receiver.url())

    # When a customer's order is placed and confirmed
    customer = await shop.customer()
    product = await shop.product()
    order_id = (await shop.place(customer, [(product, 2)]))["data"]["placeOrder"]["id"]

    # Then its six events arrive, each verified by the snippet, none twice, in the order they happened
    await eventually(lambda: len(receiver.accepted) >= 6, what="six events at the receiver")
    events = verified(receiver, secret)
    assert sorted(e["type"] for e in events) == sorted(
        [
            "OrderPlaced",
            "OrderStatusChanged",
            "OrderStatusChanged",
            "PaymentProcessed",
            "OrderStatusChanged",
            "OrderConfirmed",
        ]
    )
    assert {e["data"]["orderId"] for e in events} == {order_id}
    assert len({e["id"] for e in events}) == len(events)
    assert [e["occurredAt"] for e in events] == sorted(e["occurredAt"] for e in events)
    assert all(r.headers["MyShop-Webhook-Id"] == webhook_id for r in receiver.requests)
    # And each delivery shows one try answered 200 (recorded once the receiver's answer is read, which may be
    # after the receiver has counted the request)
    deliveries = await eventually(
        lambda: hooks.deliveries(partner, webhook_id),
        lambda found: len(found) == 6 and all(d["status"] != "PENDING" for d in found),
        what="six deliveries recorded",
    )
    assert {d["eventId"] for d in deliveries} == {e["id"] for e in events}
    for delivery in deliveries:
        assert (delivery["status"], delivery["attempts"], delivery["lastResponseStatus"]) == (
            "DELIVERED",
            1,
            200,
        )
        [attempt] = delivery["history"]
        assert (attempt["attempt"], attempt["responseStatus"], attempt["error"]) == (1, 200, None)
    # A delivered one is not replayed
    replayed = await hooks.call(partner, REPLAY_ONE, id=deliveries[0]["id"])
    assert replayed.error_codes == ["CONFLICT"]


async def test_after_a_rotation_both_secrets_sign_and_the_old_one_still_verifies(
    shop: Shop, hooks: WebhookApi, receiver: Receiver, issuer: Any
) -> None:
    partner = issuer.issue(str(uuid.uuid4()), ["PARTNER"]).token
    webhook_id, old = await hooks.created(partner, receiver.url(), ["OrderStatusChanged"])

    rotated = (await hooks.call(partner, ROTATE, id=webhook_id)).ok()["rotateWebhookSecret"]
    new = rotated["secret"]
    await shop.publish("orders", "OrderStatusChanged", orderId=str(uuid.uuid4()), status="CONFIRMED")

    await eventually(lambda: receiver.accepted, what="the event at the receiver")
    [request] = receiver.accepted
    assert new != old and rotated["webhook"]["previousSecretExpiresAt"] is not None
    assert request.headers["MyShop-Signature"].count("v1=") == 2
    webhook_verify.verify(request.body, request.headers["MyShop-Signature"], new)
    webhook_verify.verify(request.body, request.headers["MyShop-Signature"], old)


async def test_a_receiver_failing_forever_is_disabled_and_mailed_and_a_replay_after_the_fix_delivers_once(
    shop: Shop, hooks: WebhookApi, receiver: Receiver, issuer: Any
) -> None:
    # Given a registered partner's webhook whose receiver answers 500 to everything
    owner = await shop.customer(name="Pat Partner")
    partner = issuer.issue(owner.id, ["PARTNER"]).token
    webhook_id, secret = await hooks.created(partner, receiver.url(), ["OrderConfirmed"])
    receiver.failing = True

    # When three orders' events are delivered (each tried 3 times)
    published = [
        (await shop.publish("orders", "OrderConfirmed", orderId=str(uuid.uuid4()), total=100))[0].id
        for _ in range(3)
    ]

    # Then they are DEAD, the endpoint is DISABLED with the reason, and its owner is mailed
    webhook = await eventually(
        lambda: hooks.call(partner, WEBHOOK, id=webhook_id),
        lambda answer: answer.ok()["webhook"]["status"] == "DISABLED",
        what="the webhook disabled",
    )
    assert "in a row" in webhook.ok()["webhook"]["disabledReason"]
    dead = await hooks.deliveries(partner, webhook_id, "DEAD")
    assert len(dead) == 3 and all(d["attempts"] == 3 and d["lastResponseStatus"] == 500 for d in dead)
    assert [a["error"] for a in dead[0]["history"]] == ["answered 500"] * 3
    mail = await shop.final(owner.id, "WEBHOOK_DISABLED")
    assert mail["status"] == "SENT" and receiver.url() in mail["body"]
    assert [m.subject for m in shop.mail.to(owner.email) if "webhook" in m.subject] == [mail["subject"]]

    # And an event while it is disabled waits for it (not tried)
    tried = len(receiver.requests)
    waiting = (await shop.publish("orders", "OrderConfirmed", orderId=str(uuid.uuid4()), total=5))[0].id
    await eventually(lambda: hooks.deliveries(partner, webhook_id, "PENDING"), what="the event queued")
    assert len(receiver.requests) == tried

    # When the receiver is fixed, the webhook enabled and its dead deliveries replayed
    receiver.failing = False
    assert (await hooks.call(partner, ENABLE, id=webhook_id)).ok()["enableWebhook"]["status"] == "ACTIVE"
    assert (await hooks.call(partner, REPLAY_ALL, id=webhook_id)).ok()["replayWebhookDeliveries"] == 3

    # Then every event is delivered once
    await eventually(
        lambda: hooks.deliveries(partner, webhook_id),
        lambda found: all(d["status"] == "DELIVERED" for d in found),
        what="every delivery DELIVERED",
    )
    ids = [event["id"] for event in verified(receiver, secret)]
    assert sorted(ids) == sorted(str(i) for i in [*published, waiting])
    assert (await hooks.call(partner, REPLAY_ALL, id=webhook_id)).ok()["replayWebhookDeliveries"] == 0


async def test_production_refuses_a_loopback_target_at_delivery_time(
    api: Any, shop: Shop, hooks: WebhookApi, receiver: Receiver, issuer: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Given webhooks on loopback, by address and by name, registered while that was allowed (a DNS answer
    # that changed after registration looks the same)
    partner = issuer.issue(str(uuid.uuid4()), ["PARTNER"]).token
    by_address, _ = await hooks.created(partner, receiver.url("/a"))
    by_name, _ = await hooks.created(partner, receiver.url("/b", host="localhost"))

    # When the service runs in production mode and an event is delivered
    monkeypatch.setattr(api.settings["notifications"], "environment", "production")
    await shop.publish("orders", "OrderStatusChanged", orderId=str(uuid.uuid4()), status="CONFIRMED")

    # Then neither is connected to: each try fails as a refused target
    for webhook_id in (by_address, by_name):
        [delivery] = await eventually(
            lambda webhook_id=webhook_id: hooks.deliveries(partner, webhook_id),
            lambda found: found and found[0]["history"],
            what="a try",
        )
        assert delivery["history"][0]["error"].startswith("target refused")
        assert delivery["history"][0]["responseStatus"] is None
    assert receiver.requests == []


async def test_an_event_on_the_stream_twice_is_delivered_once(
    shop: Shop, hooks: WebhookApi, receiver: Receiver, issuer: Any
) -> None:
    # Given a webhook, and an event its relay published twice (it died before marking it published)
    partner = issuer.issue(str(uuid.uuid4()), ["PARTNER"]).token
    webhook_id, secret = await hooks.created(partner, receiver.url(), ["OrderCancelled"])
    event, fields = await shop.publish("orders", "OrderCancelled", orderId=str(uuid.uuid4()), code="DECLINED")
    await shop.deliver_again("orders", fields)
    marker, _ = await shop.publish("orders", "OrderCancelled", orderId=str(uuid.uuid4()), code="DECLINED")

    # When both copies and a later event were consumed
    await eventually(lambda: len(receiver.accepted) >= 2, what="the events at the receiver")

    # Then the event has one delivery (the later event's came after the copy was handled), delivered once
    assert len(await hooks.deliveries(partner, webhook_id)) == 2
    assert sorted(e["id"] for e in verified(receiver, secret)) == sorted([str(event.id), str(marker.id)])


async def test_ended_deliveries_past_the_retention_are_pruned_and_pending_ones_kept(
    shop: Shop, hooks: WebhookApi, receiver: Receiver, issuer: Any
) -> None:
    # Given a delivered event and one waiting (its endpoint disabled), both from two days ago
    partner = issuer.issue(str(uuid.uuid4()), ["PARTNER"]).token
    await hooks.created(partner, receiver.url(), ["OrderCancelled"])
    delivered, _ = await shop.publish("orders", "OrderCancelled", orderId=str(uuid.uuid4()))
    await eventually(lambda: receiver.accepted, what="the event delivered")
    await eventually(lambda: shop.rows("SELECT id FROM webhook_attempts"))
    async with AsyncSession(shop.engines["notifications"]) as session, session.begin():
        await session.execute(text("UPDATE webhook_endpoints SET status = 'DISABLED'"))
    waiting, _ = await shop.publish("orders", "OrderCancelled", orderId=str(uuid.uuid4()))
    await eventually(lambda: shop.rows("SELECT id FROM webhook_deliveries WHERE status = 'PENDING'"))
    async with AsyncSession(shop.engines["notifications"]) as session, session.begin():
        await session.execute(
            text(
                "UPDATE webhook_deliveries SET delivered_at = delivered_at - interval '2 days', "
                "created_at = created_at - interval '2 days'"
            )
        )
        await session.execute(text("UPDATE webhook_events SET occurred_at = occurred_at - interval '2 days'"))

        # When deliveries that ended more than a day ago are pruned
        pruned = await webhooks_repository.prune(session, older_than_hours=24, limit=100)

    # Then the delivered one went with its tries and its event; the waiting one and its event stay
    assert pruned == 1
    assert [row["event_id"] for row in await shop.rows("SELECT event_id FROM webhook_deliveries")] == [
        waiting.id
    ]
    assert [row["id"] for row in await shop.rows("SELECT id FROM webhook_events")] == [waiting.id]
    assert await shop.rows("SELECT id FROM webhook_attempts") == []
    assert delivered.id != waiting.id


async def test_an_endpoint_failing_for_longer_than_the_setting_is_disabled_before_any_delivery_is_dead(
    api: Any, shop: Shop, hooks: WebhookApi, receiver: Receiver, issuer: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    settings = api.settings["notifications"]
    monkeypatch.setattr(settings, "webhook_max_attempts", 1000)
    monkeypatch.setattr(settings, "webhook_disable_after_failing_seconds", 1.0)
    partner = issuer.issue(str(uuid.uuid4()), ["PARTNER"]).token
    webhook_id, _ = await hooks.created(partner, receiver.url(), ["OrderCancelled"])
    receiver.failing = True

    await shop.publish("orders", "OrderCancelled", orderId=str(uuid.uuid4()))

    answer = await eventually(
        lambda: hooks.call(partner, WEBHOOK, id=webhook_id),
        lambda answer: answer.ok()["webhook"]["status"] == "DISABLED",
        what="the webhook disabled",
    )
    assert answer.ok()["webhook"]["disabledReason"].startswith("every try failed since")
    [delivery] = await hooks.deliveries(partner, webhook_id)
    assert delivery["status"] == "PENDING" and delivery["attempts"] >= 2
