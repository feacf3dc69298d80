"""A variant ordered through the router over the committed supergraph: the order's line and the cart's line
reach the variant's fields in products (SKU, price, options, product), and its sales in analytics."""

from __future__ import annotations

import uuid

from eventually import eventually
from orders_shop import Shop
from test_orders_router import ask, router  # noqa: F401 (the router fixture)
from variant_shop import variant_product

from shared.testing import ServerThread

PLACE = """
mutation($input: PlaceOrderInput!) {
  placeOrder(input: $input) {
    id status
    items {
      quantity sku variantLabel
      product { name }
      variant { id sku price { amount } weight selectedOptions { name value } product { id } }
    }
  }
}"""
CART = """
mutation($variant: ID!) {
  cartAddLine(variantId: $variant, quantity: 2) {
    lines { variant { sku selectedOptions { value } } product { id } unitPrice { amount } }
  }
}"""
STATS = """
query($id: ID!) { order(id: $id) { items { variant { stats { unitsSold revenue { amount } } } } } }"""


async def test_an_ordered_variant_reads_its_catalog_fields_through_the_router(
    shop: Shop,
    router: ServerThread,  # noqa: F811
) -> None:
    shirt = await variant_product(
        shop,
        options={"Size": ["M", "L"], "Colour": ["Red"]},
        variants=[({"Size": "M", "Colour": "Red"}, 2200, 300), ({"Size": "L", "Colour": "Red"}, None, None)],
        stock=5,
    )
    medium = shirt.variant(Size="M", Colour="Red")
    customer = shop.customer()
    order_input = {
        "items": [{"variantId": medium.id, "quantity": 1}],
        "paymentMethod": "tok_approve",
        "idempotencyKey": uuid.uuid4().hex,
    }

    placed = await ask(router, PLACE, {"input": order_input}, customer.token)
    carted = await ask(router, CART, {"variant": medium.id}, customer.token)

    assert placed.get("errors") is None, placed
    order = dict(placed["data"]["placeOrder"])
    order_id = order["id"]
    assert order.pop("id") and order["status"] == "CONFIRMED"
    assert order["items"] == [
        {
            "quantity": 1,
            "sku": medium.sku,
            "variantLabel": "M / Red",
            "product": {"name": shirt.name},
            "variant": {
                "id": medium.id,
                "sku": medium.sku,
                "price": {"amount": 2200},
                "weight": 300,
                "selectedOptions": [{"name": "Size", "value": "M"}, {"name": "Colour", "value": "Red"}],
                "product": {"id": shirt.id},
            },
        }
    ]
    assert carted.get("errors") is None, carted
    assert carted["data"]["cartAddLine"]["lines"] == [
        {
            "variant": {"sku": medium.sku, "selectedOptions": [{"value": "M"}, {"value": "Red"}]},
            "product": {"id": shirt.id},
            "unitPrice": {"amount": 2200},
        }
    ]
    # and analytics counts the sale for that variant (admin only)
    stats = await eventually(
        lambda: ask(router, STATS, {"id": order_id}, shop.admin),
        lambda answer: (
            bool(answer.get("data"))
            and answer["data"]["order"]["items"][0]["variant"]["stats"]["unitsSold"] == 1
        ),
        within=30,
        what="analytics to count the variant's sale",
    )
    assert stats["data"]["order"]["items"][0]["variant"]["stats"]["revenue"] == [{"amount": 2200}]
