"""Orders of product variants over the real stack: a line names a variant (`variantId`), or a product alone
when it is sold as one thing; prices, weights, stock and the order's events are the variant's."""

from __future__ import annotations

import uuid
from typing import Any

from orders_shop import Shop
from variant_shop import VariantProduct, archive_variant, variant_product, variant_stock

from subgraphs.orders import pricing

SIZES_COLOURS = {"Size": ["M", "L"], "Colour": ["Red", "Blue"]}
PLACE = """
mutation Place($input: PlaceOrderInput!) {
  placeOrder(input: $input) {
    id status total { amount currency }
    items { product { id } variant { id } productName sku variantLabel quantity unitPrice { amount } }
  }
}"""
ADD = """
mutation Add($product: ID, $variant: ID, $quantity: Int!) {
  cartAddLine(productId: $product, variantId: $variant, quantity: $quantity) {
    weightGrams subtotal { amount }
    lines { product { id } variant { id } quantity unitPrice { amount } }
  }
}"""


async def tshirt(shop: Shop, stock: int = 5) -> VariantProduct:
    # M/Red has a price and weight of its own; L/Blue sells at the product's (1500, 200 g).
    return await variant_product(
        shop,
        options=SIZES_COLOURS,
        variants=[({"Size": "M", "Colour": "Red"}, 2000, 250), ({"Size": "L", "Colour": "Blue"}, None, None)],
        stock=stock,
    )


async def place(shop: Shop, customer: Any, items: list[dict[str, Any]]) -> Any:
    order_input = {"items": items, "paymentMethod": "tok_approve", "idempotencyKey": uuid.uuid4().hex}
    return await shop.gql("orders", PLACE, {"input": order_input}, token=customer.token)


async def orders_of(shop: Shop, customer: Any) -> list[dict[str, Any]]:
    return await shop.rows("orders", "SELECT id FROM orders WHERE user_id = :u", u=uuid.UUID(customer.id))


async def test_ordering_a_variant_prices_and_reserves_that_variant_only(shop: Shop) -> None:
    # Given a T-shirt in M/Red (20.00) and L/Blue (the product's 15.00), 5 of each
    shirt = await tshirt(shop)
    red, blue = shirt.variant(Size="M", Colour="Red"), shirt.variant(Size="L", Colour="Blue")
    customer = shop.customer()

    # When a customer orders 2 M/Red
    response = await place(shop, customer, [{"variantId": red.id, "quantity": 2}])

    # Then the order is confirmed at the variant's price, its line names the variant, its SKU and options
    order = response.ok()["placeOrder"]
    assert order["status"] == "CONFIRMED"
    assert order["total"] == {"amount": 4000, "currency": "USD"}
    assert order["items"] == [
        {
            "product": {"id": shirt.id},
            "variant": {"id": red.id},
            "productName": shirt.name,
            "sku": red.sku,
            "variantLabel": "M / Red",
            "quantity": 2,
            "unitPrice": {"amount": 2000},
        }
    ]
    # only M/Red's stock left the shop
    assert await variant_stock(shop, red.id) == {"available": 3, "reserved": 0, "onHand": 3}
    assert await variant_stock(shop, blue.id) == {"available": 5, "reserved": 0, "onHand": 5}
    # and the order's events carry the variant beside the product
    rows = await shop.rows(
        "orders",
        "SELECT event_type, payload FROM outbox WHERE aggregate_id = :id AND event_type = 'OrderConfirmed'",
        id=order["id"],
    )
    [item] = rows[0]["payload"]["items"]
    assert {k: item[k] for k in ("productId", "variantId", "sku", "optionValues", "variantLabel")} == {
        "productId": shirt.id,
        "variantId": red.id,
        "sku": red.sku,
        "optionValues": {"Size": "M", "Colour": "Red"},
        "variantLabel": "M / Red",
    }


async def test_a_product_id_alone_of_a_product_in_several_variants_is_variant_required(shop: Shop) -> None:
    shirt = await tshirt(shop)
    customer = shop.customer()

    ordered = await place(shop, customer, [{"productId": shirt.id, "quantity": 1}])
    added = await shop.gql("orders", ADD, {"product": shirt.id, "quantity": 1}, token=customer.token)

    assert ordered.error_codes == ["VARIANT_REQUIRED"]
    assert ordered.errors[0]["extensions"]["field"] == "items.0.productId"
    assert added.error_codes == ["VARIANT_REQUIRED"]
    assert await orders_of(shop, customer) == []
    assert await variant_stock(shop, shirt.variants[0].id) == {"available": 5, "reserved": 0, "onHand": 5}


async def test_a_product_id_alone_still_names_a_single_variant_products_variant(shop: Shop) -> None:
    # Given a product created without variants: its one variant shares its id
    product = await shop.product(price=1250, stock=10)
    customer = shop.customer()

    # When it is ordered by product, by variant, and by both (agreeing)
    by_product = await place(shop, customer, [{"productId": product, "quantity": 1}])
    by_variant = await place(shop, customer, [{"variantId": product, "quantity": 2}])
    by_both = await place(shop, customer, [{"productId": product, "variantId": product, "quantity": 3}])

    # Then each order sells that variant, and the stock kept under its id moves
    for response, quantity in ((by_product, 1), (by_variant, 2), (by_both, 3)):
        [item] = response.ok()["placeOrder"]["items"]
        assert (item["product"], item["variant"], item["quantity"]) == (
            {"id": product},
            {"id": product},
            quantity,
        )
        assert item["variantLabel"] is None
    assert await variant_stock(shop, product) == {"available": 4, "reserved": 0, "onHand": 4}


async def test_a_variant_given_with_another_products_id_is_refused(shop: Shop) -> None:
    shirt = await tshirt(shop)
    other = await shop.product()
    customer = shop.customer()

    ordered = await place(
        shop, customer, [{"productId": other, "variantId": shirt.variants[0].id, "quantity": 1}]
    )
    added = await shop.gql(
        "orders",
        ADD,
        {"product": other, "variant": shirt.variants[0].id, "quantity": 1},
        token=customer.token,
    )

    for response in (ordered, added):
        assert response.error_codes == ["BAD_USER_INPUT"]
        assert response.errors[0]["extensions"]["reason"] == "VARIANT_MISMATCH"
    assert await orders_of(shop, customer) == []


async def test_an_archived_variant_is_not_sold_and_its_siblings_are(shop: Shop) -> None:
    shirt = await tshirt(shop)
    red, blue = shirt.variant(Size="M", Colour="Red"), shirt.variant(Size="L", Colour="Blue")
    await archive_variant(shop, red.id)
    customer = shop.customer()

    refused = await place(shop, customer, [{"variantId": red.id, "quantity": 1}])
    unknown = await place(shop, customer, [{"variantId": str(uuid.uuid4()), "quantity": 1}])
    sold = await place(shop, customer, [{"variantId": blue.id, "quantity": 1}])

    assert refused.error_codes == ["BAD_USER_INPUT"]
    assert refused.errors[0]["extensions"]["field"] == "items.0.variantId"
    assert unknown.error_codes == ["NOT_FOUND"]
    assert sold.ok()["placeOrder"]["status"] == "CONFIRMED"
    assert await variant_stock(shop, red.id) == {"available": 5, "reserved": 0, "onHand": 5}


async def test_once_one_variant_is_left_active_its_product_id_names_it(shop: Shop) -> None:
    shirt = await tshirt(shop)
    red, blue = shirt.variant(Size="M", Colour="Red"), shirt.variant(Size="L", Colour="Blue")
    await archive_variant(shop, red.id)

    response = await place(shop, shop.customer(), [{"productId": shirt.id, "quantity": 1}])

    [item] = response.ok()["placeOrder"]["items"]
    assert item["variant"] == {"id": blue.id} and item["unitPrice"] == {"amount": 1500}


async def test_a_cart_holds_one_line_per_variant_at_each_variants_price_and_weight(shop: Shop) -> None:
    shirt = await tshirt(shop)
    red, blue = shirt.variant(Size="M", Colour="Red"), shirt.variant(Size="L", Colour="Blue")
    customer = shop.customer()

    for variant, quantity in ((red, 1), (blue, 2), (red, 2)):
        response = await shop.gql(
            "orders", ADD, {"variant": variant.id, "quantity": quantity}, token=customer.token
        )
        cart = response.ok()["cartAddLine"]

    # Two lines (M/Red added twice adds up), each at its variant's price, weighed by its variant's weight
    assert cart["lines"] == [
        {
            "product": {"id": shirt.id},
            "variant": {"id": red.id},
            "quantity": 3,
            "unitPrice": {"amount": 2000},
        },
        {
            "product": {"id": shirt.id},
            "variant": {"id": blue.id},
            "quantity": 2,
            "unitPrice": {"amount": 1500},
        },
    ]
    assert cart["subtotal"] == {"amount": 3 * 2000 + 2 * 1500}
    assert cart["weightGrams"] == 3 * 250 + 2 * 200
    rows = await shop.rows(
        "orders",
        "SELECT l.variant_id, l.product_id FROM cart_lines l JOIN carts c ON c.id = l.cart_id "
        "WHERE c.user_id = :u ORDER BY l.added_at",
        u=uuid.UUID(customer.id),
    )
    assert [(str(r["variant_id"]), str(r["product_id"])) for r in rows] == [
        (red.id, shirt.id),
        (blue.id, shirt.id),
    ]


async def test_an_archived_variant_in_a_cart_is_flagged_and_not_counted(shop: Shop) -> None:
    shirt = await tshirt(shop)
    red, blue = shirt.variant(Size="M", Colour="Red"), shirt.variant(Size="L", Colour="Blue")
    customer = shop.customer()
    for variant in (red, blue):
        (await shop.gql("orders", ADD, {"variant": variant.id, "quantity": 1}, token=customer.token)).ok()
    await archive_variant(shop, red.id)

    cart = (
        await shop.gql(
            "orders",
            "{ cart { subtotal { amount } lines { variant { id } available } notices { code variantId } } }",
            token=customer.token,
        )
    ).ok()["cart"]

    assert [(line["variant"]["id"], line["available"]) for line in cart["lines"]] == [
        (red.id, False),
        (blue.id, True),
    ]
    assert cart["subtotal"] == {"amount": 1500}
    assert cart["notices"] == [{"code": "PRODUCT_UNAVAILABLE", "variantId": red.id}]


def test_a_products_promotion_covers_every_variant_of_a_product_or_one_variant_named() -> None:
    shirt, medium, large = (str(uuid.uuid4()) for _ in range(3))
    lines = [
        pricing.PricedLine(str(n), shirt, None, pricing.STANDARD, 1000, 1, variant_id=variant)
        for n, variant in enumerate((medium, large))
    ]
    percent = pricing.DiscountKind.PERCENTAGE
    by_product = pricing.AppliedDiscount("p", "Shirts", percent, 1000, product_ids=frozenset({shirt}))
    by_variant = pricing.AppliedDiscount("v", "Medium", percent, 1000, product_ids=frozenset({medium}))

    assert [by_product.covers(line) for line in lines] == [True, True]
    assert [by_variant.covers(line) for line in lines] == [True, False]
