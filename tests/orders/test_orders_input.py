"""Bad input and the wrong caller: a GraphQL error with a code, and nothing changed in any database."""

from __future__ import annotations

import uuid
from typing import Any

import pytest
from orders_shop import CANCEL, ORDER, Shop
from orders_shop import PLACE as PLACE_DOC

COUNTS = {
    "orders": "SELECT (SELECT count(*) FROM orders) AS orders, (SELECT count(*) FROM outbox) AS events",
    "inventory": "SELECT (SELECT count(*) FROM reservations) AS reservations, "
    "(SELECT count(*) FROM stock_movements) AS movements",
    "payments": "SELECT count(*) AS payments FROM payments",
}


async def snapshot(shop: Shop) -> dict[str, Any]:
    return {service: await shop.rows(service, sql) for service, sql in COUNTS.items()}


@pytest.mark.parametrize(
    ("case", "code"),
    [
        ("unknown product", "NOT_FOUND"),
        ("not an id", "BAD_USER_INPUT"),
        ("quantity 0", "BAD_USER_INPUT"),
        ("negative quantity", "BAD_USER_INPUT"),
        ("huge quantity", "BAD_USER_INPUT"),
        ("archived product", "BAD_USER_INPUT"),
        ("empty cart", "BAD_USER_INPUT"),
        ("blank payment method", "BAD_USER_INPUT"),
        ("bad idempotency key", "BAD_USER_INPUT"),
        ("two currencies", "BAD_USER_INPUT"),
    ],
)
async def test_bad_order_input_is_refused_and_changes_nothing(shop: Shop, case: str, code: str) -> None:
    product = await shop.product(stock=5)
    euro_product = await shop.product(currency="EUR", stock=5)
    archived = await shop.product(stock=5)
    await shop.archive(archived)
    items: list[tuple[str, Any]] = [(product, 1)]
    method, key = "tok_approve", None
    if case == "unknown product":
        items = [(str(uuid.uuid4()), 1)]
    elif case == "not an id":
        items = [("product-1", 1)]
    elif case == "quantity 0":
        items = [(product, 0)]
    elif case == "negative quantity":
        items = [(product, -3)]
    elif case == "huge quantity":
        items = [(product, 2_000_000_000)]
    elif case == "archived product":
        items = [(archived, 1)]
    elif case == "empty cart":
        items = []
    elif case == "blank payment method":
        method = "  "
    elif case == "bad idempotency key":
        key = "x" * 101
    elif case == "two currencies":
        items = [(product, 1), (euro_product, 1)]
    before = await snapshot(shop)

    response = await shop.place(shop.customer(), items, method=method, key=key)

    assert response.status_code == 200
    assert response.error_codes == [code]
    assert response.data is None
    assert await snapshot(shop) == before


async def test_a_customer_cannot_read_or_cancel_someone_elses_order(shop: Shop) -> None:
    product = await shop.product(stock=5)
    owner, other = shop.customer(), shop.customer()
    order = (await shop.place(owner, [(product, 1)])).ok()["placeOrder"]
    before = await snapshot(shop)

    read = await shop.gql("orders", ORDER, {"id": order["id"]}, token=other.token)
    cancel = await shop.gql("orders", CANCEL, {"id": order["id"]}, token=other.token)

    assert read.error_codes == ["FORBIDDEN"]
    assert cancel.error_codes == ["FORBIDDEN"]
    assert await snapshot(shop) == before
    assert (await shop.order(order["id"]))["status"] == "CONFIRMED"


async def test_a_partner_reads_any_order_but_cannot_cancel_it(shop: Shop) -> None:
    product = await shop.product(stock=5)
    order = (await shop.place(shop.customer(), [(product, 1)])).ok()["placeOrder"]
    partner = shop.issuer.issue(str(uuid.uuid4()), ["PARTNER"]).token

    read = await shop.gql("orders", ORDER, {"id": order["id"]}, token=partner)
    cancel = await shop.gql("orders", CANCEL, {"id": order["id"]}, token=partner)

    assert read.ok()["order"]["id"] == order["id"]
    assert cancel.error_codes == ["FORBIDDEN"]


async def test_a_second_cancel_is_a_conflict_and_changes_nothing(shop: Shop) -> None:
    product = await shop.product(stock=5)
    customer = shop.customer()
    order = (await shop.place(customer, [(product, 2)])).ok()["placeOrder"]
    (await shop.gql("orders", CANCEL, {"id": order["id"]}, token=customer.token)).ok()
    before = await snapshot(shop)

    again = await shop.gql("orders", CANCEL, {"id": order["id"]}, token=customer.token)

    assert again.error_codes == ["CONFLICT"]
    assert again.errors[0]["extensions"]["reason"] == "ALREADY_CANCELLED"
    assert await snapshot(shop) == before
    assert await shop.stock(product) == {"available": 5, "reserved": 0, "onHand": 5}


async def test_cancelling_an_unknown_order_is_not_found(shop: Shop) -> None:
    response = await shop.gql("orders", CANCEL, {"id": str(uuid.uuid4())}, token=shop.customer().token)

    assert response.error_codes == ["NOT_FOUND"]


async def test_anonymous_callers_cannot_place_orders(shop: Shop) -> None:
    product = await shop.product(stock=5)
    order_input = {
        "items": [{"productId": product, "quantity": 1}],
        "paymentMethod": "tok_approve",
        "idempotencyKey": "anon",
    }

    response = await shop.gql("orders", PLACE_DOC, {"input": order_input})

    assert response.error_codes == ["UNAUTHENTICATED"]


async def test_orders_lists_are_for_staff_and_a_users_own(shop: Shop) -> None:
    product = await shop.product(stock=5)
    customer = shop.customer()
    (await shop.place(customer, [(product, 1)])).ok()
    listing = "query { orders(first: 5) { edges { node { id } } } }"
    own = "query($r: [_Any!]!) { _entities(representations: $r) { ... on User { orders { nodes { id } } } } }"

    as_customer = await shop.gql("orders", listing, token=customer.token)
    as_admin = await shop.gql("orders", listing, token=shop.admin)
    mine = await shop.gql(
        "orders", own, {"r": [{"__typename": "User", "id": customer.id}]}, token=customer.token
    )
    theirs = await shop.gql(
        "orders", own, {"r": [{"__typename": "User", "id": customer.id}]}, token=shop.customer().token
    )

    assert as_customer.error_codes == ["FORBIDDEN"]
    assert len(as_admin.ok()["orders"]["edges"]) == 1
    assert len(mine.ok()["_entities"][0]["orders"]["nodes"]) == 1
    assert theirs.error_codes == ["FORBIDDEN"]


async def test_order_listings_page_newest_first_and_refuse_a_foreign_cursor(shop: Shop) -> None:
    product = await shop.product(stock=5)
    customer = shop.customer()
    placed = [(await shop.place(customer, [(product, 1)])).ok()["placeOrder"]["id"] for _ in range(3)]
    page = """query($after: String) {
      orders(first: 2, after: $after) { edges { cursor node { id } } pageInfo { hasNextPage endCursor } }
    }"""
    confirmed = """query($after: String) {
      orders(status: CONFIRMED, first: 2, after: $after) { edges { node { id } } }
    }"""

    first = (await shop.gql("orders", page, token=shop.admin)).ok()["orders"]
    second = (
        await shop.gql("orders", page, {"after": first["pageInfo"]["endCursor"]}, token=shop.admin)
    ).ok()
    foreign = await shop.gql("orders", confirmed, {"after": first["pageInfo"]["endCursor"]}, token=shop.admin)
    garbage = await shop.gql("orders", page, {"after": "not-a-cursor"}, token=shop.admin)

    newest_first = [edge["node"]["id"] for edge in first["edges"] + second["orders"]["edges"]]
    assert newest_first == placed[::-1]
    assert first["pageInfo"]["hasNextPage"] is True
    assert second["orders"]["pageInfo"]["hasNextPage"] is False
    assert foreign.error_codes == ["BAD_USER_INPUT"]  # a cursor belongs to the listing that made it
    assert garbage.error_codes == ["BAD_USER_INPUT"]
