"""Checkout and placeOrder priced by the same code, over the orders subgraph: the order's new fields and the
breakdown keys its events carry (the contract analytics and notifications consume)."""

from __future__ import annotations

import asyncio
import uuid
from typing import Any

from orders_shop import Shop

BREAKDOWN_KEYS = {
    "subtotal",
    "discountTotal",
    "shipping",
    "taxTotal",
    "itemsNet",
    "shippingNet",
    "pricesIncludeTax",
    "discounts",
    "taxLines",
    "shippingMethod",
    "cartId",
}
PRICED_ORDER = """
query O($id: ID!) {
  order(id: $id) {
    total { amount } subtotal { amount } discountTotal { amount } shippingPrice { amount } taxTotal { amount }
    pricesIncludeTax cartId shippingMethod { id } shippingAddress { country } billingAddress { country }
    discounts { code } taxLines { taxClass }
    items { lineTotal { amount } discount { amount } tax { amount } total { amount } }
  }
}"""
ADD = "mutation A($p: ID!, $q: Int!) { cartAddLine(productId: $p, quantity: $q) { id } }"
SHIP_TO = "mutation S($a: AddressInput!) { cartSetShippingAddress(address: $a) { id } }"
CHOOSE = "mutation C($m: ID!) { cartSetShippingMethod(methodId: $m) { id } }"
CHECKOUT = """
mutation Out($cart: ID!, $key: String!) {
  checkoutComplete(cartId: $cart, paymentMethod: "tok_approve", idempotencyKey: $key) {
    id status total { amount }
  }
}"""
ZONE = 'mutation Z($c: [String!]!) { createShippingZone(name: "Checkout zone", countries: $c) { id } }'
METHOD = "mutation M($input: CreateShippingMethodInput!) { createShippingMethod(input: $input) { id } }"
RATE = 'mutation { setTaxRate(country: "IT", taxClass: "standard", rate: 2200) { country } }'
PROMOTION = "mutation P($input: PromotionInput!) { createPromotion(input: $input) { id } }"
VOUCHER = "mutation V($c: String!) { cartApplyVoucher(code: $c) { id } }"
USED = "query U($id: ID!) { promotion(id: $id) { usedCount } }"
CANCEL = "mutation X($id: ID!) { cancelOrder(id: $id) { status } }"
ADDRESS = {
    "name": "Cliente",
    "line1": "Via Roma 1",
    "city": "Roma",
    "postalCode": "00184",
    "region": "RM",
    "country": "IT",
}


async def events_of(shop: Shop, order_id: str) -> dict[str, dict[str, Any]]:
    rows = await shop.rows(
        "orders", "SELECT event_type, payload FROM outbox WHERE aggregate_id = :id ORDER BY id", id=order_id
    )
    return {row["event_type"]: row["payload"] for row in rows}


async def italian_shipping(shop: Shop) -> str:
    """A zone for Italy with one flat 5.00 EUR method, and a 22% tax rate: the method's id."""
    zone = (await shop.gql("shipping", ZONE, {"c": ["IT"]}, token=shop.admin)).ok()["createShippingZone"][
        "id"
    ]
    method_input = {
        "zoneId": zone,
        "name": "Poste",
        "minDeliveryDays": 1,
        "maxDeliveryDays": 3,
        "currency": "EUR",
        "rateKind": "FLAT",
        "flatPrice": 500,
    }
    method = (await shop.gql("shipping", METHOD, {"input": method_input}, token=shop.admin)).ok()
    (await shop.gql("orders", RATE, {}, token=shop.admin)).ok()
    return str(method["createShippingMethod"]["id"])


async def ship_to_italy(shop: Shop, customer: Any, method: str) -> None:
    """The customer's cart gets an Italian address and the method."""
    (await shop.gql("orders", SHIP_TO, {"a": ADDRESS}, token=customer.token)).ok()
    (await shop.gql("orders", CHOOSE, {"m": method}, token=customer.token)).ok()


async def ready_cart(shop: Shop, customer: Any, product: str) -> str:
    method = await italian_shipping(shop)
    cart = (await shop.gql("orders", ADD, {"p": product, "q": 2}, token=customer.token)).ok()["cartAddLine"][
        "id"
    ]
    await ship_to_italy(shop, customer, method)
    return str(cart)


async def test_a_placed_order_has_a_zero_breakdown_and_its_events_carry_every_key(shop: Shop) -> None:
    product = await shop.product(price=1250)
    customer = shop.customer()

    placed = (await shop.place(customer, [(product, 2)])).ok()["placeOrder"]

    order = (await shop.gql("orders", PRICED_ORDER, {"id": placed["id"]}, token=customer.token)).ok()["order"]
    assert order == {
        "total": {"amount": 2500},
        "subtotal": {"amount": 2500},
        "discountTotal": {"amount": 0},
        "shippingPrice": {"amount": 0},
        "taxTotal": {"amount": 0},
        "pricesIncludeTax": False,
        "cartId": None,
        "shippingMethod": None,
        "shippingAddress": None,
        "billingAddress": None,
        "discounts": [],
        "taxLines": [{"taxClass": "standard"}],
        "items": [
            {
                "lineTotal": {"amount": 2500},
                "discount": {"amount": 0},
                "tax": {"amount": 0},
                "total": {"amount": 2500},
            }
        ],
    }
    events = await events_of(shop, placed["id"])
    for name in ("OrderPlaced", "OrderConfirmed"):
        payload = events[name]
        assert BREAKDOWN_KEYS <= payload.keys()
        assert (payload["total"], payload["subtotal"], payload["itemsNet"], payload["taxTotal"]) == (
            2500,
            2500,
            2500,
            0,
        )
        assert (payload["discounts"], payload["shippingMethod"], payload["cartId"]) == ([], None, None)
        # A product sold as one thing: the variant sold is its own (same id), without options.
        assert payload["items"][0]["variantId"] == payload["items"][0]["productId"]
        assert payload["items"][0] | {"productId": None, "variantId": None, "sku": None} == {
            "productId": None,
            "variantId": None,
            "sku": None,
            "optionValues": {},
            "variantLabel": None,
            "quantity": 2,
            "unitPrice": 1250,
            "discount": 0,
            "tax": 0,
            "total": 2500,
        }


async def test_a_checked_out_orders_events_carry_its_breakdown(shop: Shop) -> None:
    product = await shop.product(price=1000, currency="EUR")
    customer = shop.customer()
    cart = await ready_cart(shop, customer, product)

    placed = (await shop.gql("orders", CHECKOUT, {"cart": cart, "key": "k"}, token=customer.token)).ok()

    order = placed["checkoutComplete"]
    assert order["status"] == "CONFIRMED"
    # 2 x 10.00 + 5.00 shipping, 22% on both: 2000 + 500 + 440 + 110.
    assert order["total"]["amount"] == 3050
    confirmed = (await events_of(shop, order["id"]))["OrderConfirmed"]
    assert {key: confirmed[key] for key in BREAKDOWN_KEYS - {"shippingMethod"}} == {
        "subtotal": 2000,
        "discountTotal": 0,
        "shipping": 500,
        "taxTotal": 550,
        "itemsNet": 2000,
        "shippingNet": 500,
        "pricesIncludeTax": False,
        "discounts": [],
        "taxLines": [{"taxClass": "standard", "rateBp": 2200, "amount": 550}],
        "cartId": cart,
    }
    assert confirmed["shippingMethod"]["name"] == "Poste"
    assert confirmed["items"][0]["tax"] == 440 and confirmed["items"][0]["total"] == 2440


async def test_a_key_used_by_a_placed_order_is_refused_for_a_checkout(shop: Shop) -> None:
    product = await shop.product(price=1000, currency="EUR")
    customer = shop.customer()
    key = uuid.uuid4().hex
    (await shop.place(customer, [(product, 1)], key=key)).ok()
    cart = await ready_cart(shop, customer, product)

    answer = await shop.gql("orders", CHECKOUT, {"cart": cart, "key": key}, token=customer.token)

    assert answer.error_codes == ["CONFLICT"]
    assert answer.errors[0]["extensions"]["reason"] == "IDEMPOTENCY_KEY_REUSED"
    assert (await shop.rows("orders", "SELECT count(*) AS n FROM orders WHERE cart_id = :c", c=cart)) == [
        {"n": 0}
    ]


async def test_a_guest_cannot_check_out(shop: Shop) -> None:
    answer = await shop.gql("orders", CHECKOUT, {"cart": str(uuid.uuid4()), "key": "k"})

    assert answer.error_codes == ["UNAUTHENTICATED"]


async def test_a_second_checkout_of_a_cart_being_checked_out_is_refused(shop: Shop) -> None:
    product = await shop.product(price=1000, currency="EUR")
    customer = shop.customer()
    cart = await ready_cart(shop, customer, product)

    answers = await asyncio.gather(
        *(
            shop.gql("orders", CHECKOUT, {"cart": cart, "key": key}, token=customer.token)
            for key in ("a", "b")
        )
    )

    placed = [answer for answer in answers if not answer.errors]
    refused = [answer.errors[0]["extensions"] for answer in answers if answer.errors]
    assert len(placed) == 1 and placed[0].data["checkoutComplete"]["status"] == "CONFIRMED"
    assert [(e["code"], e["reason"]) for e in refused] == [("CONFLICT", "CHECKOUT_IN_PROGRESS")]
    assert await shop.rows("orders", "SELECT count(*) AS n FROM orders WHERE cart_id = :c", c=cart) == [
        {"n": 1}
    ]


async def test_cancelling_a_checked_out_order_gives_its_voucher_use_back(shop: Shop) -> None:
    product = await shop.product(price=1000, currency="EUR")
    customer = shop.customer()
    cart = await ready_cart(shop, customer, product)
    code = f"BACK-{uuid.uuid4().hex[:8].upper()}"
    voucher = {"name": "Back", "kind": "PERCENTAGE", "value": 1000, "code": code, "usageLimit": 1}
    created = (await shop.gql("orders", PROMOTION, {"input": voucher}, token=shop.admin)).ok()
    promotion = created["createPromotion"]["id"]
    (await shop.gql("orders", VOUCHER, {"c": code}, token=customer.token)).ok()
    order = (await shop.gql("orders", CHECKOUT, {"cart": cart, "key": "k"}, token=customer.token)).ok()
    used_before = await used_count(shop, promotion)

    (await shop.gql("orders", CANCEL, {"id": order["checkoutComplete"]["id"]}, token=customer.token)).ok()

    assert (used_before, await used_count(shop, promotion)) == (1, 0)


async def used_count(shop: Shop, promotion: str) -> int:
    data = (await shop.gql("orders", USED, {"id": promotion}, token=shop.admin)).ok()
    return int(data["promotion"]["usedCount"])
