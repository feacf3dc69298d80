"""Checkout through the router over MyShop's supergraph, as customers: a cart priced with tax, shipping and a
voucher becomes an order that freezes every figure; every refusal changes nothing; a voucher's last uses go
to exactly as many orders under concurrency, and a declined payment gives its use back.

Each test ships to countries of its own (a country is in at most one shipping zone, and the stack is shared
by the module)."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest

from shared.ratelimit import Limit
from shared.testing import ServerThread
from subgraphs.orders import carts

CREATE_PRODUCT = "mutation C($input: CreateProductInput!) { createProduct(input: $input) { id } }"
ADJUST = 'mutation A($id: ID!) { adjustStock(productId: $id, delta: 500, reason: "checkout test") { id } }'
UPDATE_PRICE = (
    "mutation P($id: ID!, $price: MoneyInput!) { updateProduct(id: $id, input: {price: $price}) { id } }"
)
ARCHIVE = "mutation Ar($id: ID!) { archiveProduct(id: $id) { id } }"
SET_RATE = """
mutation R($country: String!, $taxClass: String!, $rate: Int!) {
  setTaxRate(country: $country, taxClass: $taxClass, rate: $rate) { country }
}"""
ZONE = """
mutation Z($name: String!, $countries: [String!]!) {
  createShippingZone(name: $name, countries: $countries) { id }
}"""
METHOD = "mutation M($input: CreateShippingMethodInput!) { createShippingMethod(input: $input) { id } }"
ARCHIVE_METHOD = "mutation AM($id: ID!) { archiveShippingMethod(id: $id) { id } }"
PROMOTION = "mutation CP($input: PromotionInput!) { createPromotion(input: $input) { id } }"
UPDATE_PROMOTION = (
    "mutation UP($id: ID!, $input: PromotionInput!) { updatePromotion(id: $id, input: $input) { id } }"
)
USED = "query U($id: ID!) { promotion(id: $id) { usedCount } }"
MONEY = "{ amount currency }"
CART_FIELDS = f"""
  id subtotal {MONEY} discountTotal {MONEY} shippingPrice {MONEY} taxTotal {MONEY} total {MONEY}
  voucherCode shippingMethodId updatedAt
  lines {{ id quantity discount {MONEY} tax {MONEY} total {MONEY} }}
  discounts {{ code amount {MONEY} }}
  taxLines {{ taxClass rateBp amount {MONEY} }}
  notices {{ code reason }}
"""
CART = f"query {{ cart {{ {CART_FIELDS} availableShippingMethods {{ method {{ id }} price {MONEY} }} }} }}"
ADD = f"mutation Add($p: ID!, $q: Int!) {{ cartAddLine(productId: $p, quantity: $q) {{ {CART_FIELDS} }} }}"
SHIP_TO = f"mutation S($a: AddressInput!) {{ cartSetShippingAddress(address: $a) {{ {CART_FIELDS} }} }}"
CHOOSE = f"mutation Ch($m: ID!) {{ cartSetShippingMethod(methodId: $m) {{ {CART_FIELDS} }} }}"
VOUCHER = f"mutation V($c: String!) {{ cartApplyVoucher(code: $c) {{ {CART_FIELDS} }} }}"
ORDER_FIELDS = f"""
  id status total {MONEY} subtotal {MONEY} discountTotal {MONEY} shippingPrice {MONEY} taxTotal {MONEY}
  pricesIncludeTax cartId
  shippingMethod {{ id name price {MONEY} }}
  shippingAddress {{ country postalCode }} billingAddress {{ country }}
  discounts {{ promotionId code name amount {MONEY} }}
  taxLines {{ taxClass rateBp amount {MONEY} }}
  items {{ quantity unitPrice {MONEY} discount {MONEY} tax {MONEY} taxClass taxRateBp total {MONEY} }}
"""
CHECKOUT = f"""
mutation Out($cart: ID!, $pay: String!, $key: String!) {{
  checkoutComplete(cartId: $cart, paymentMethod: $pay, idempotencyKey: $key) {{ {ORDER_FIELDS} }}
}}"""
ORDER = f"query O($id: ID!) {{ order(id: $id) {{ {ORDER_FIELDS} }} }}"


@pytest.fixture
async def client(myshop_router: ServerThread) -> AsyncIterator[httpx.AsyncClient]:
    limits = httpx.Limits(max_connections=200, max_keepalive_connections=200)
    async with httpx.AsyncClient(base_url=myshop_router.url, timeout=120, limits=limits) as client:
        yield client


async def post(client: httpx.AsyncClient, query: str, variables: dict[str, Any], token: str | None) -> Any:
    headers = {"authorization": f"Bearer {token}"} if token is not None else {}
    response = await client.post("/graphql", json={"query": query, "variables": variables}, headers=headers)
    assert response.status_code == 200, response.text
    return response.json()


async def call(client: httpx.AsyncClient, query: str, variables: dict[str, Any], token: str | None) -> Any:
    body = await post(client, query, variables, token)
    assert "errors" not in body, body
    return body["data"]


async def refused(
    client: httpx.AsyncClient, query: str, variables: dict[str, Any], token: str
) -> dict[str, Any]:
    body = await post(client, query, variables, token)
    assert body.get("errors"), body
    extensions: dict[str, Any] = body["errors"][0]["extensions"]
    return extensions


def address(country: str, postal_code: str) -> dict[str, str]:
    return {
        "name": "Checkout Customer",
        "line1": "Hauptstrasse 1",
        "city": "Town",
        "postalCode": postal_code,
        "country": country,
    }


@dataclass
class Store:
    admin: str
    products: list[str]
    method: str
    other_method: str


async def open_store(
    client: httpx.AsyncClient, issuer: Any, country: str, other: str, prices: list[int]
) -> Store:
    """Products (the second one `reduced`), tax rates 20%/10% in `country`, a zone of `country` with a flat
    4.90 method and a zone of `other` with its own method."""
    admin = issuer.issue(str(uuid.uuid4()), ["ADMIN"]).token
    products = []
    for index, amount in enumerate(prices):
        sku = f"CO-{uuid.uuid4().hex[:10].upper()}"
        product_input = {
            "sku": sku,
            "name": f"Checkout item {sku}",
            "description": "",
            "price": {"amount": amount, "currency": "EUR"},
            "category": "Tests",
            "taxClass": "reduced" if index == 1 else "standard",
            "weight": 100,
        }
        product = (await call(client, CREATE_PRODUCT, {"input": product_input}, admin))["createProduct"]["id"]
        await call(client, ADJUST, {"id": product}, admin)
        products.append(product)
    await call(client, SET_RATE, {"country": country, "taxClass": "standard", "rate": 2000}, admin)
    await call(client, SET_RATE, {"country": country, "taxClass": "reduced", "rate": 1000}, admin)
    methods = []
    for zone_country in (country, other):
        zone = await call(client, ZONE, {"name": f"Zone {zone_country}", "countries": [zone_country]}, admin)
        method_input = {
            "zoneId": zone["createShippingZone"]["id"],
            "name": f"Post {zone_country}",
            "minDeliveryDays": 1,
            "maxDeliveryDays": 3,
            "currency": "EUR",
            "rateKind": "FLAT",
            "flatPrice": 490,
        }
        methods.append(
            (await call(client, METHOD, {"input": method_input}, admin))["createShippingMethod"]["id"]
        )
    return Store(admin, products, methods[0], methods[1])


async def voucher(client: httpx.AsyncClient, store: Store, **fields: Any) -> tuple[str, str]:
    code = f"WELCOME10-{uuid.uuid4().hex[:8].upper()}"
    promotion_input = {"name": "Welcome 10%", "kind": "PERCENTAGE", "value": 1000, "code": code, **fields}
    created = await call(client, PROMOTION, {"input": promotion_input}, store.admin)
    return code, created["createPromotion"]["id"]


async def used(client: httpx.AsyncClient, store: Store, promotion: str) -> int:
    return int((await call(client, USED, {"id": promotion}, store.admin))["promotion"]["usedCount"])


async def filled_cart(
    client: httpx.AsyncClient, customer: str, store: Store, country: str, postal_code: str, code: str | None
) -> dict[str, Any]:
    for product, quantity in zip(store.products, (1, 2, 3), strict=False):
        await call(client, ADD, {"p": product, "q": quantity}, customer)
    await call(client, SHIP_TO, {"a": address(country, postal_code)}, customer)
    cart = (await call(client, CHOOSE, {"m": store.method}, customer))["cartSetShippingMethod"]
    if code is not None:
        cart = (await call(client, VOUCHER, {"c": code}, customer))["cartApplyVoucher"]
    return dict(cart)


def customer_token(issuer: Any) -> str:
    return str(issuer.issue(str(uuid.uuid4()), ["CUSTOMER"]).token)


async def test_a_checked_out_order_freezes_every_figure_of_its_cart(
    client: httpx.AsyncClient, issuer: Any
) -> None:
    # Given 3 lines (10.00 standard, 2 x 3.33 reduced, 3 x 0.99 standard) shipped to AT at 4.90, WELCOME10
    store = await open_store(client, issuer, "AT", "CH", [1000, 333, 99])
    code, promotion = await voucher(client, store)
    subject = str(uuid.uuid4())
    customer = issuer.issue(subject, ["CUSTOMER"]).token
    await filled_cart(client, customer, store, "AT", "1010", None)
    listed = (await call(client, CART, {}, customer))["cart"]["availableShippingMethods"]
    assert [rate["method"]["id"] for rate in listed] == [store.method]  # only the zone's
    cart = (await call(client, VOUCHER, {"c": code.lower()}, customer))["cartApplyVoucher"]
    # A second device (a new token of the same customer) sees the same cart.
    again = (await call(client, CART, {}, issuer.issue(subject, ["CUSTOMER"]).token))["cart"]
    assert {key: again[key] for key in ("id", "total", "lines")} == {
        key: cart[key] for key in ("id", "total", "lines")
    }

    # Hand computed: subtotal 1000 + 666 + 297 = 1963; 10% = 196.3 → 196, allocated in proportion: 99.85,
    # 66.50, 29.66 → 99 + 66 + 29 = 194, the 2 left to the largest remainders (.85, .66): 100/66/30; nets
    # 900/600/267. Tax: 900 x 20% = 180; 600 x 10% = 60; 267 x 20% = 53.4 → 53; shipping 490 x 20% = 98.
    assert cart["subtotal"]["amount"] == 1963
    assert cart["discountTotal"]["amount"] == 196
    assert [line["discount"]["amount"] for line in cart["lines"]] == [100, 66, 30]
    assert [line["tax"]["amount"] for line in cart["lines"]] == [180, 60, 53]
    assert cart["shippingPrice"]["amount"] == 490
    assert cart["taxTotal"]["amount"] == 180 + 60 + 53 + 98
    assert cart["total"]["amount"] == 1963 - 196 + 490 + 391

    # When it checks out
    order = (
        await call(client, CHECKOUT, {"cart": cart["id"], "pay": "tok_approve", "key": "co-1"}, customer)
    )["checkoutComplete"]

    # Then the order carries the cart's figures, and total = subtotal - discount + shipping + tax
    assert order["status"] == "CONFIRMED"
    assert order["total"] == cart["total"]
    assert order["total"]["amount"] == (
        order["subtotal"]["amount"]
        - order["discountTotal"]["amount"]
        + order["shippingPrice"]["amount"]
        + order["taxTotal"]["amount"]
    )
    assert order["cartId"] == cart["id"] and order["pricesIncludeTax"] is False
    assert order["shippingMethod"] == {
        "id": store.method,
        "name": "Post AT",
        "price": {"amount": 490, "currency": "EUR"},
    }
    assert order["shippingAddress"] == {"country": "AT", "postalCode": "1010"}
    assert order["billingAddress"] == {"country": "AT"}
    assert order["discounts"] == [
        {
            "promotionId": promotion,
            "code": code,
            "name": "Welcome 10%",
            "amount": {"amount": 196, "currency": "EUR"},
        }
    ]
    assert [(i["taxClass"], i["taxRateBp"], i["tax"]["amount"]) for i in order["items"]] == [
        ("standard", 2000, 180),
        ("reduced", 1000, 60),
        ("standard", 2000, 53),
    ]
    assert await used(client, store, promotion) == 1
    # The customer's next cart is a new one.
    assert (await call(client, CART, {}, customer))["cart"]["id"] != cart["id"]

    # And a later price, rate or voucher change leaves the order as it was
    await call(
        client,
        UPDATE_PRICE,
        {"id": store.products[0], "price": {"amount": 5000, "currency": "EUR"}},
        store.admin,
    )
    await call(client, SET_RATE, {"country": "AT", "taxClass": "standard", "rate": 500}, store.admin)
    await call(
        client,
        UPDATE_PROMOTION,
        {"id": promotion, "input": {"name": "Half", "kind": "PERCENTAGE", "value": 5000, "code": code}},
        store.admin,
    )
    assert (await call(client, ORDER, {"id": order["id"]}, customer))["order"] == order
    # The same key answers the same order.
    replay = await call(client, CHECKOUT, {"cart": cart["id"], "pay": "tok_approve", "key": "co-1"}, customer)
    assert replay["checkoutComplete"]["id"] == order["id"]


async def test_each_refused_checkout_changes_nothing(client: httpx.AsyncClient, issuer: Any) -> None:
    store = await open_store(client, issuer, "BE", "LU", [1000, 500, 250])
    code, promotion = await voucher(client, store)
    customer = customer_token(issuer)
    empty = (await call(client, CART, {}, customer))["cart"]

    async def refusal(key: str) -> dict[str, Any]:
        before = (await call(client, CART, {}, customer))["cart"]
        extensions = await refused(
            client, CHECKOUT, {"cart": before["id"], "pay": "tok_approve", "key": key}, customer
        )
        after = (await call(client, CART, {}, customer))["cart"]
        assert after == {**before, "availableShippingMethods": after["availableShippingMethods"]}
        assert await used(client, store, promotion) == 0
        # No order took the key: a later checkout with it is a new one.
        return extensions

    # An empty cart
    assert (await refusal("k-empty"))["reason"] == "CART_EMPTY"
    cart = await filled_cart(client, customer, store, "BE", "1000", code)
    assert cart["id"] == empty["id"] and cart["discountTotal"]["amount"] > 0
    # A stale shipping method (archived since it was chosen)
    await call(client, ARCHIVE_METHOD, {"id": store.method}, store.admin)
    extensions = await refusal("k-stale")
    assert (extensions["code"], extensions["reason"]) == ("BAD_USER_INPUT", "SHIPPING_METHOD_UNAVAILABLE")
    # An address outside every zone: shipping is not offered there (no method can be chosen)
    await call(client, SHIP_TO, {"a": address("FR", "75001")}, customer)
    chosen = await refused(client, CHOOSE, {"m": store.other_method}, customer)
    assert (chosen["code"], chosen["reason"], chosen["field"]) == (
        "BAD_USER_INPUT",
        "NOT_IN_ZONE",
        "methodId",
    )
    assert (await refusal("k-nomethod"))["reason"] == "SHIPPING_METHOD_REQUIRED"
    await call(client, SHIP_TO, {"a": address("LU", "1111")}, customer)
    await call(client, CHOOSE, {"m": store.other_method}, customer)
    # An expired voucher: told on the cart, refused at checkout
    past = datetime.now(UTC) - timedelta(days=1)
    await call(
        client,
        UPDATE_PROMOTION,
        {
            "id": promotion,
            "input": {
                "name": "Old",
                "kind": "PERCENTAGE",
                "value": 1000,
                "code": code,
                "endsAt": past.isoformat(),
                "startsAt": (past - timedelta(days=2)).isoformat(),
            },
        },
        store.admin,
    )
    assert {"code": "VOUCHER_NOT_APPLICABLE", "reason": "VOUCHER_EXPIRED"} in (
        await call(client, CART, {}, customer)
    )["cart"]["notices"]
    assert (await refusal("k-expired"))["reason"] == "VOUCHER_EXPIRED"
    tried = await refused(client, VOUCHER, {"c": code}, customer)
    assert (tried["reason"], tried["field"]) == ("VOUCHER_EXPIRED", "code")
    await call(client, "mutation { cartRemoveVoucher { id } }", {}, customer)
    # An archived product's line
    await call(client, ARCHIVE, {"id": store.products[2]}, store.admin)
    extensions = await refusal("k-archived")
    assert (extensions["reason"], extensions["field"]) == ("LINE_UNAVAILABLE", "lineId")


# Customers checking out at once with a voucher of 10 uses. Thirty race as a hundred did, at a third of the
# sagas: a service's pool holds 4 connections in tests (tests/conftest.py), so no more reach PostgreSQL at
# once either way.
VOUCHER_CUSTOMERS = 30


async def test_a_voucher_limited_to_10_uses_discounts_exactly_10_of_30_concurrent_checkouts(
    client: httpx.AsyncClient, issuer: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    # 30 customers behind one test address: the per-address limit on voucher tries is not what is tested.
    monkeypatch.setattr(carts, "VOUCHER_TRIES_PER_ADDRESS", Limit(1000, 600))
    store = await open_store(client, issuer, "NL", "DK", [1000])
    code, promotion = await voucher(client, store, usageLimit=10)
    customers = [customer_token(issuer) for _ in range(VOUCHER_CUSTOMERS)]

    async def cart_with_the_voucher(customer: str) -> str:
        await call(client, ADD, {"p": store.products[0], "q": 1}, customer)
        await call(client, SHIP_TO, {"a": address("NL", "1011 AB")}, customer)
        await call(client, CHOOSE, {"m": store.method}, customer)
        return str((await call(client, VOUCHER, {"c": code}, customer))["cartApplyVoucher"]["id"])

    # The carts are filled side by side (each customer's steps in order): only the checkouts race.
    cart_ids = await asyncio.gather(*(cart_with_the_voucher(customer) for customer in customers))
    assert await used(client, store, promotion) == 0

    answers = await asyncio.gather(
        *(
            post(client, CHECKOUT, {"cart": cart, "pay": "tok_approve", "key": "race"}, customer)
            for cart, customer in zip(cart_ids, customers, strict=True)
        )
    )

    orders = [a["data"]["checkoutComplete"] for a in answers if not a.get("errors")]
    errors = [a["errors"][0]["extensions"] for a in answers if a.get("errors")]
    assert len(orders) == 10 and all(order["discountTotal"]["amount"] == 100 for order in orders)
    assert {(e["code"], e["reason"]) for e in errors} == {("CONFLICT", "VOUCHER_USED_UP")} and len(
        errors
    ) == VOUCHER_CUSTOMERS - 10
    assert await used(client, store, promotion) == 10


async def test_a_declined_payment_gives_the_voucher_use_back_and_unlocks_the_cart(
    client: httpx.AsyncClient, issuer: Any
) -> None:
    store = await open_store(client, issuer, "PT", "ES", [1000, 500])
    code, promotion = await voucher(client, store, usageLimit=1)
    customer = customer_token(issuer)
    cart = await filled_cart(client, customer, store, "PT", "1000-001", code)

    declined = await refused(
        client, CHECKOUT, {"cart": cart["id"], "pay": "tok_decline", "key": "d-1"}, customer
    )

    assert declined["code"] == "PAYMENT_DECLINED"
    assert await used(client, store, promotion) == 0
    # The cart is the customer's still, unlocked: checking out again (another key) works, with the voucher.
    order = await call(client, CHECKOUT, {"cart": cart["id"], "pay": "tok_approve", "key": "d-2"}, customer)
    assert order["checkoutComplete"]["discountTotal"]["amount"] == cart["discountTotal"]["amount"] > 0
    assert await used(client, store, promotion) == 1


async def test_a_gross_store_takes_the_tax_out_of_its_prices(
    client: httpx.AsyncClient, issuer: Any, stack: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Given a gross store: 12.00 standard (20%) and 2 x 5.50 reduced (10%), shipping 4.90 (standard)
    monkeypatch.setattr(stack.settings["orders"], "prices_include_tax", True)
    store = await open_store(client, issuer, "FI", "SE", [1200, 550])
    customer = customer_token(issuer)
    cart = await filled_cart(client, customer, store, "FI", "00100", None)

    order = await call(client, CHECKOUT, {"cart": cart["id"], "pay": "tok_approve", "key": "g-1"}, customer)

    # Then: tax 1200 - round(1200 / 1.2) = 200; 1100 - round(1100 / 1.1) = 100; 490 - round(490 / 1.2) =
    # 490 - 408 = 82; the total is the gross prices plus shipping: 1200 + 1100 + 490.
    placed = order["checkoutComplete"]
    assert placed["pricesIncludeTax"] is True
    assert [item["tax"]["amount"] for item in placed["items"]] == [200, 100]
    assert placed["taxTotal"]["amount"] == 200 + 100 + 82
    assert placed["total"]["amount"] == 1200 + 1100 + 490


async def test_guessing_voucher_codes_is_rate_limited_per_customer(
    client: httpx.AsyncClient, issuer: Any
) -> None:
    store = await open_store(client, issuer, "IE", "GB", [1000])
    customer = customer_token(issuer)
    await call(client, ADD, {"p": store.products[0], "q": 1}, customer)
    tries = [
        (await refused(client, VOUCHER, {"c": f"GUESS-{n}"}, customer))["code"]
        for n in range(carts.VOUCHER_TRIES_PER_CART.attempts + 1)
    ]
    assert tries == ["BAD_USER_INPUT"] * carts.VOUCHER_TRIES_PER_CART.attempts + ["RATE_LIMITED"]
