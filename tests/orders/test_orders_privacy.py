"""Orders forgets a deleted user's carts (they freeze addresses) and exports them: privacy.py on the real
orders database and over the orders subgraph."""

from __future__ import annotations

import uuid

from cart_shop import ADD, HOME, SHIP_TO, cart_call
from orders_shop import Shop
from returns_shop import Returns
from sqlalchemy.ext.asyncio import async_sessionmaker

from subgraphs.orders.privacy import forget

EXPORT = """
query Export($representations: [_Any!]!) {
  _entities(representations: $representations) { ... on PersonalDataExport { userId carts } }
}"""


async def test_a_deleted_users_carts_go_and_anothers_stay(shop: Shop) -> None:
    product = await shop.product()
    leaving, staying = shop.customer(), shop.customer()
    for customer in (leaving, staying):
        (await cart_call(shop, ADD, customer.token, product=product, quantity=1)).ok()
        (await cart_call(shop, SHIP_TO, customer.token, address=HOME)).ok()

    async with async_sessionmaker(shop.engines["orders"])() as session, session.begin():
        gone = await forget(session, uuid.UUID(leaving.id))

    assert gone == 1
    owners = await shop.rows("orders", "SELECT user_id FROM carts")
    assert [str(row["user_id"]) for row in owners] == [staying.id]
    lines = await shop.rows("orders", "SELECT c.user_id FROM cart_lines l JOIN carts c ON c.id = l.cart_id")
    assert [str(row["user_id"]) for row in lines] == [staying.id]


async def test_the_export_holds_the_users_carts_with_their_address_and_lines(shop: Shop) -> None:
    product = await shop.product(price=400)
    customer = shop.customer()
    (await cart_call(shop, ADD, customer.token, product=product, quantity=2)).ok()
    (await cart_call(shop, SHIP_TO, customer.token, address=HOME)).ok()
    (await cart_call(shop, ADD, shop.customer().token, product=product, quantity=1)).ok()

    representation = {"__typename": "PersonalDataExport", "userId": customer.id}
    answer = await shop.gql("orders", EXPORT, {"representations": [representation]}, token=customer.token)

    [cart] = answer.ok()["_entities"][0]["carts"]
    assert cart["shippingAddress"]["line1"] == HOME["line1"]
    assert [(line["productId"], line["quantity"], line["unitPrice"]) for line in cart["lines"]] == [
        (product, 2, 400)
    ]


async def test_a_deleted_customers_return_reasons_are_emptied_and_the_books_stay(shop: Shop) -> None:
    # Given a customer's return with a reason in their own words, and another customer's
    returns = Returns(shop)
    product = await shop.product(price=500)
    leaving, staying = shop.customer(), shop.customer()
    kept = {}
    for customer in (leaving, staying):
        order_id = await returns.confirmed_order(customer, [(product, 1)])
        await returns.deliver(order_id, [(1, 1)])
        kept[customer.id] = await returns.request(
            customer.token, order_id, [(1, 1)], reason=f"Ring me at +44 20 7946 {customer.id[:4]}"
        )

    # When the first customer is deleted
    async with async_sessionmaker(shop.engines["orders"])() as session, session.begin():
        await forget(session, uuid.UUID(leaving.id))

    # Then their return keeps its lines and refund but not their words, in the table and in its events
    rows = {
        str(row["user_id"]): row
        for row in await shop.rows("orders", "SELECT user_id, reason, refund_total FROM returns")
    }
    assert rows[leaving.id]["reason"] == "" and rows[leaving.id]["refund_total"] == 500
    assert rows[staying.id]["reason"] == f"Ring me at +44 20 7946 {staying.id[:4]}"
    [(kind, payload)] = await returns.events(kept[leaving.id]["id"])
    assert (kind, payload["reason"], payload["lines"][0]["quantity"]) == ("ReturnRequested", "", 1)
    [(_, other)] = await returns.events(kept[staying.id]["id"])
    assert other["reason"] == rows[staying.id]["reason"]


async def test_the_export_lists_each_orders_returns(shop: Shop) -> None:
    returns = Returns(shop)
    product = await shop.product(price=700)
    customer = shop.customer()
    order_id = await returns.confirmed_order(customer, [(product, 2)])
    await returns.deliver(order_id, [(1, 2)])
    requested = await returns.request(customer.token, order_id, [(1, 1)], reason="Too big")

    representation = {"__typename": "PersonalDataExport", "userId": customer.id}
    query = EXPORT.replace("userId carts", "userId orders")
    answer = await shop.gql("orders", query, {"representations": [representation]}, token=customer.token)

    [order] = answer.ok()["_entities"][0]["orders"]
    [exported] = order["returns"]
    assert (exported["id"], exported["status"], exported["reason"]) == (
        requested["id"],
        "REQUESTED",
        "Too big",
    )
    assert exported["lines"] == [{"line": 1, "quantity": 1, "refund": 700}]
