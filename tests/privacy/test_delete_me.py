"""Issue 14 item 8 end to end, through the router over the whole stack: after `deleteMe` no service's database
holds the shopper's email or name (every text and JSON column of every schema searched), the books and the
analytics revenue are unchanged, the old token and the password are dead; `exportMyData` gathers the
shopper's data from every subgraph and nothing of anyone else's; a crafted representation is refused."""

from __future__ import annotations

import uuid
from typing import Any

import orjson
import pytest
from eventually import eventually
from privacy_shop import DELETE_ME, LOGIN, ME, PASSWORD, Shop
from redis.asyncio import Redis

from shared.subscriptions import dead_letter_stream

EXPORT = "{ exportMyData { userId generatedAt account orders carts payments notifications analytics } }"
ENTITIES = """
query Export($representations: [_Any!]!) {
  _entities(representations: $representations) { ... on PersonalDataExport { userId %s } }
}"""
# Each subgraph's part of the export, as each one answers a representation.
PARTS = {
    "users": "account",
    "orders": "orders",
    "payments": "payments",
    "notifications": "notifications",
    "analytics": "analytics",
}


def _name() -> str:
    # Unique, so a search of every database for it finds this shopper and no one else.
    return f"Zebulon Quux{uuid.uuid4().hex[:6]}"


async def _dead_letter(redis: Redis, prefix: str, group: str, user_id: str, email: str, name: str) -> None:
    """A `UserRegistered` the group gave up on, as `shared.consumer` writes it (its payload whole)."""
    payload = {"userId": user_id, "email": email, "name": name, "at": "2026-01-01T00:00:00+00:00"}
    fields = {
        "id": str(uuid.uuid4()),
        "type": "UserRegistered",
        "producer": "users",
        "version": "1",
        "time": "2026-01-01T00:00:00+00:00",
        "aggregate": user_id,
        "payload": orjson.dumps(payload).decode(),
        "stream": f"{prefix}events:users",
        "message_id": "1-0",
        "error": "ConnectionError: users was down",
        "attempts": "9",
        "failed_at": "2026-01-01T00:00:00+00:00",
    }
    await redis.xadd(dead_letter_stream(prefix, group), fields)  # type: ignore[arg-type]


@pytest.mark.slow
async def test_delete_me_leaves_no_email_or_name_in_any_database_and_keeps_the_books(
    shop: Shop, redis: Redis, api: Any
) -> None:
    prefix = api.settings["users"].redis_prefix
    shopper = await shop.sign_up(_name())
    product = await shop.product()
    order = await shop.live(shopper, product)
    # Mails written (welcome, confirmation), the order counted by analytics.
    await eventually(
        lambda: shop.rows(
            "notifications", "SELECT kind FROM notifications WHERE user_id = :id", id=shopper.id
        ),
        lambda rows: {row["kind"] for row in rows} >= {"WELCOME", "ORDER_CONFIRMED"},
        what="the shopper's mails",
    )
    # People search for what they should not, signed in: their own name.
    await shop.searched_signed_in(shopper, shopper.name)
    sales = await eventually(shop.sales, lambda s: s["confirmedOrders"] == 1, what="analytics' sale")
    for group in ("notifications", "analytics"):
        await _dead_letter(redis, prefix, group, shopper.id, shopper.email, shopper.name)
    before = {needle: await shop.holders(needle) for needle in (shopper.email, shopper.name)}
    assert before[shopper.email] and before[shopper.name]  # the search below can fail
    assert "orders.public.carts.shipping_address" in before[shopper.name]

    deleted = await shop.ok(DELETE_ME, {"password": PASSWORD}, shopper.token)

    assert deleted == {"deleteMe": True}
    event_id = await eventually(lambda: shop.user_deleted_event(shopper.id), what="UserDeleted in the outbox")
    await eventually(
        lambda: shop.consumers_done(event_id),
        lambda done: len(done) == 4,
        within=30,
        what="UserDeleted processed by notifications, analytics, products and orders",
    )
    assert await shop.holders(shopper.email) == []
    assert await shop.holders(shopper.name) == []
    assert (
        await shop.rows("orders", "SELECT 1 FROM carts WHERE user_id = :id", id=uuid.UUID(shopper.id)) == []
    )
    for group in ("notifications", "analytics"):
        letters = await redis.xrange(dead_letter_stream(prefix, group))
        assert letters, group  # scrubbed, not lost
        assert shopper.email.encode() not in str(letters).encode() and shopper.name not in str(letters)
    totals = await shop.rows(
        "orders", "SELECT total_amount FROM orders WHERE id = :id", id=uuid.UUID(order["id"])
    )
    assert [row["total_amount"] for row in totals] == [order["total"]["amount"]] == [5000]
    assert await shop.sales() == sales
    me = await shop.call(ME, token=shopper.token)
    assert [error["extensions"]["code"] for error in me["errors"]] == ["UNAUTHENTICATED"]
    login = await shop.call(LOGIN, {"email": shopper.email, "password": PASSWORD})
    assert [error["extensions"]["code"] for error in login["errors"]] == ["UNAUTHENTICATED"]


async def test_delete_me_with_a_wrong_password_is_refused_and_deletes_nothing(shop: Shop) -> None:
    shopper = await shop.sign_up(_name())

    refused = await shop.call(DELETE_ME, {"password": "not my password"}, shopper.token)

    assert [error["extensions"]["code"] for error in refused["errors"]] == ["BAD_USER_INPUT"]
    assert (await shop.ok(ME, token=shopper.token))["me"]["email"] == shopper.email
    assert await shop.user_deleted_event(shopper.id) is None


@pytest.mark.slow
async def test_export_my_data_gathers_every_subgraph_and_nothing_of_another_user(shop: Shop) -> None:
    product = await shop.product()
    shopper, other = await shop.sign_up(_name()), await shop.sign_up(_name())
    order = await shop.live(shopper, product)
    others_order = await shop.live(other, product)
    await eventually(
        lambda: shop.rows("notifications", "SELECT 1 FROM notifications WHERE user_id = :id", id=shopper.id),
        lambda rows: len(rows) >= 2,
        what="the shopper's mails",
    )
    await eventually(
        lambda: shop.rows("analytics", "SELECT 1 FROM order_facts WHERE order_id = :id", id=order["id"]),
        what="analytics' fact of the order",
    )

    export = (await shop.ok(EXPORT, token=shopper.token))["exportMyData"]

    assert export["userId"] == shopper.id
    assert export["account"]["email"] == shopper.email
    assert [a["line1"] for a in export["account"]["addresses"]] == ["12 Privacy Lane"]
    assert [(o["id"], o["total"]) for o in export["orders"]] == [(order["id"], 5000)]
    assert [p["amount"] for p in export["payments"]] == [5000]
    assert [c["shippingAddress"]["line1"] for c in export["carts"]] == ["12 Privacy Lane"]
    assert {m["kind"] for m in export["notifications"]["mails"]} >= {"WELCOME", "ORDER_CONFIRMED"}
    assert [w["productId"] for w in export["notifications"]["watchedProducts"]] == [product]
    assert [o["orderId"] for o in export["analytics"]["orders"]] == [order["id"]]
    dumped = orjson.dumps(export).decode()
    for foreign in (other.id, other.email, other.name, others_order["id"]):
        assert foreign not in dumped


async def test_export_my_data_needs_a_signed_in_user(shop: Shop) -> None:
    refused = await shop.call(EXPORT)

    assert [error["extensions"]["code"] for error in refused["errors"]] == ["UNAUTHENTICATED"]


@pytest.mark.parametrize("service", sorted(PARTS))
async def test_a_crafted_representation_of_another_user_is_refused_by_each_subgraph(
    shop: Shop, gql: Any, service: str
) -> None:
    shopper, other = await shop.sign_up(_name()), await shop.sign_up(_name())
    crafted = [{"__typename": "PersonalDataExport", "userId": other.id}]

    refused = await gql(service, ENTITIES % PARTS[service], {"representations": crafted}, token=shopper.token)
    own = await gql(
        service,
        ENTITIES % PARTS[service],
        {"representations": [{"__typename": "PersonalDataExport", "userId": shopper.id}]},
        token=shopper.token,
    )

    assert refused.error_codes == ["FORBIDDEN"]
    assert other.email not in str(refused.body)
    assert own.ok()["_entities"][0]["userId"] == shopper.id
