"""Orders forgets a deleted user's carts (they freeze addresses) and exports them: privacy.py on the real
orders database and over the orders subgraph."""

from __future__ import annotations

import uuid

from cart_shop import ADD, HOME, SHIP_TO, cart_call
from orders_shop import Shop
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
