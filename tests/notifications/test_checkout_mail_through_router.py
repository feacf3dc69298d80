"""A checkout through the router ends in the customer's mailbox: the confirmation mail the real SMTP server
receives shows the order's breakdown (subtotal, the voucher's discount with its code, shipping with its
method, the tax lines, the total), the same figures the order froze."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from mail_catcher import MailCatcher
from router_checkout import (
    ADD,
    CHOOSE,
    CREATE_PRODUCT,
    LOGIN,
    METHOD,
    MONEY,
    PASSWORD,
    PROMOTION,
    REGISTER,
    SET_RATE,
    SHIP_TO,
    VOUCHER,
    ZONE,
    call,
)

from shared.money import Money
from shared.testing import ServerThread

ADJUST = 'mutation A($id: ID!) { adjustStock(productId: $id, delta: 50, reason: "mail test") { id } }'
CHECKOUT = f"""
mutation Out($cart: ID!, $key: String!) {{
  checkoutComplete(cartId: $cart, paymentMethod: "tok_approve", idempotencyKey: $key) {{
    id status total {MONEY} subtotal {MONEY} discountTotal {MONEY} shippingPrice {MONEY} taxTotal {MONEY}
    shippingMethod {{ name }} taxLines {{ rateBp amount {MONEY} }}
  }}
}}"""


@pytest.fixture
async def client(myshop_router: ServerThread) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(base_url=myshop_router.url, timeout=60) as client:
        yield client


async def test_the_confirmation_mail_of_a_checkout_shows_its_breakdown(
    client: httpx.AsyncClient, mail: MailCatcher, issuer: Any
) -> None:
    # Given a store shipping to Portugal (a country of this test's own) with 23% tax and a 10% voucher
    admin = issuer.issue(str(uuid.uuid4()), ["ADMIN"]).token
    product_input = {
        "sku": f"MAIL-{uuid.uuid4().hex[:8].upper()}",
        "name": "Mailed Teapot",
        "description": "",
        "price": {"amount": 2500, "currency": "EUR"},
        "category": "Tests",
        "weight": 800,
    }
    product = (await call(client, CREATE_PRODUCT, {"input": product_input}, admin))["createProduct"]["id"]
    await call(client, ADJUST, {"id": product}, admin)
    await call(client, SET_RATE, {"c": "PT", "k": "standard", "r": 2300}, admin)
    zone = (await call(client, ZONE, {"n": "Portugal", "c": ["PT"]}, admin))["createShippingZone"]["id"]
    method_input = {
        "zoneId": zone,
        "name": "Correio",
        "minDeliveryDays": 1,
        "maxDeliveryDays": 4,
        "currency": "EUR",
        "rateKind": "FLAT",
        "flatPrice": 390,
    }
    method = (await call(client, METHOD, {"input": method_input}, admin))["createShippingMethod"]["id"]
    code = f"MAIL10-{uuid.uuid4().hex[:6].upper()}"
    promotion = {"name": "Mail 10%", "kind": "PERCENTAGE", "value": 1000, "code": code}
    await call(client, PROMOTION, {"input": promotion}, admin)
    # and a real customer (the mail goes to their account's address)
    email = f"checkout-mail-{uuid.uuid4().hex[:8]}@example.com"
    account = {"email": email, "password": PASSWORD, "name": "Mail Shopper"}
    await client.post("/graphql", json={"query": REGISTER, "variables": {"input": account}})
    signed_in = await client.post("/graphql", json={"query": LOGIN, "variables": {"e": email, "p": PASSWORD}})
    token = signed_in.json()["data"]["login"]["accessToken"]

    # When they fill a cart, ship it to Lisbon, use the voucher and check out
    cart = (await call(client, ADD, {"p": product, "q": 2}, token))["cartAddLine"]["id"]
    lisbon = {"name": "Mail Shopper", "line1": "Rua Augusta 1", "city": "Lisboa", "postalCode": "1100-048"}
    await call(client, SHIP_TO, {"a": {**lisbon, "country": "PT"}}, token)
    await call(client, CHOOSE, {"m": method}, token)
    await call(client, VOUCHER, {"c": code}, token)
    order = (await call(client, CHECKOUT, {"cart": cart, "key": "mail-1"}, token))["checkoutComplete"]

    # Then the confirmation mail shows the order's figures: 50.00 - 5.00 + 3.90 + 23% of 45.00 and of 3.90
    assert order["status"] == "CONFIRMED"
    assert (order["subtotal"]["amount"], order["discountTotal"]["amount"]) == (5000, 500)
    assert (order["shippingPrice"]["amount"], order["taxTotal"]["amount"]) == (390, 1035 + 90)
    assert order["total"]["amount"] == 5000 - 500 + 390 + 1125
    [confirmation] = await mail.wait_for(
        email, lambda m: order["id"][:8].upper() in m.subject + m.part("text/plain")
    )
    text = confirmation.part("text/plain")
    for amount in (5000, -500, 390, 1125, order["total"]["amount"]):  # the discount shown as taken off
        assert Money(amount, "EUR").format() in text, (amount, text)
    assert code in text and "Correio" in text
