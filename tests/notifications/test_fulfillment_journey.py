"""Issue 18's acceptance in one flow through the router over the committed supergraph, every service real: a
customer checks out 3 lines (a 10% voucher, 20% tax, flat shipping); a partner ships 2 of the lines with a
tracking number (the customer's mail carries it, the order reads PARTIALLY_FULFILLED, the partner's
`orderUpdates` delivers the change), then the third (FULFILLED), and both parcels arrive (DELIVERED); the
shipped order can no longer be cancelled; a return of one of the 3 lines, approved and received by the
partner, refunds exactly that line's share (hand-computed below: its price, less its share of the voucher,
plus its tax) and puts exactly its units back in stock; every step repeated acts once."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from eventually import eventually
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
    answer,
    call,
)
from ws_client import GraphQLWebSocket

from shared.testing import ServerThread

ADJUST = 'mutation A($id: ID!) { adjustStock(productId: $id, delta: 10, reason: "journey") { id } }'
CHECKOUT = f"""
mutation Out($cart: ID!, $key: String!) {{
  checkoutComplete(cartId: $cart, paymentMethod: "tok_approve", idempotencyKey: $key) {{
    id status total {MONEY} discountTotal {MONEY} taxTotal {MONEY} shippingPrice {MONEY}
    items {{ line product {{ id }} quantity discount {MONEY} tax {MONEY} total {MONEY} }}
  }}
}}"""
CREATE_SHIPMENT = """
mutation Ship($input: CreateShipmentInput!) {
  createShipment(input: $input) { id status lines { line quantity } }
}"""
SHIPPED = """
mutation Shipped($id: ID!, $carrier: String!, $number: String!) {
  markShipmentShipped(id: $id, carrier: $carrier, trackingNumber: $number) {
    id status carrier trackingNumber trackingUrl shippedAt
  }
}"""
DELIVERED = "mutation D($id: ID!) { markShipmentDelivered(id: $id) { id status deliveredAt } }"
FULFILLMENT = """
query F($id: ID!) {
  order(id: $id) {
    id status fulfillmentStatus shipments { id status trackingNumber lines { line quantity } }
  }
}"""
UPDATES = """
subscription U {
  orderUpdates { cursor kind status fulfillmentStatus shipmentId order { id } }
}"""
CANCEL = "mutation Cancel($id: ID!) { cancelOrder(id: $id) { id status } }"
REQUEST_RETURN = f"""
mutation Req($input: RequestReturnInput!) {{
  requestReturn(input: $input) {{ id status lines {{ line quantity }} refund {{ total {MONEY} }} }}
}}"""
APPROVE = "mutation Ap($id: ID!) { approveReturn(id: $id) { id status } }"
RECEIVE = f"mutation Rc($id: ID!) {{ receiveReturn(id: $id) {{ id status refund {{ total {MONEY} }} }} }}"
REFUNDS = f"""
query Refunds($id: ID!) {{
  order(id: $id) {{
    payment {{ status amount {MONEY} refundedAmount {MONEY} refunds {{ amount {MONEY} }} }}
    returns {{ id status }}
  }}
}}"""
STOCK = "query S($id: ID!) { product(id: $id) { stock { onHand available } } }"

# The catalog of the journey (EUR): unit prices and quantities of the 3 lines.
LINES = [(2500, 1), (1000, 2), (4000, 1)]


@pytest.fixture
async def client(myshop_router: ServerThread) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(base_url=myshop_router.url, timeout=60) as client:
        yield client


def codes(body: dict[str, Any]) -> list[str | None]:
    return [(error.get("extensions") or {}).get("code") for error in body.get("errors") or []]


async def checkout(client: httpx.AsyncClient, admin: str) -> tuple[str, str, dict[str, Any], list[str]]:
    """A real customer's order of LINES shipped to Austria: (email, token, order, product ids)."""
    products = []
    for index, (price, _) in enumerate(LINES):
        product_input = {
            "sku": f"JRN18-{index}-{uuid.uuid4().hex[:8].upper()}",
            "name": f"Journey item {index + 1}",
            "description": "",
            "price": {"amount": price, "currency": "EUR"},
            "category": "Tests",
            "weight": 500,
        }
        product = (await call(client, CREATE_PRODUCT, {"input": product_input}, admin))["createProduct"]["id"]
        await call(client, ADJUST, {"id": product}, admin)
        products.append(product)
    await call(client, SET_RATE, {"c": "AT", "k": "standard", "r": 2000}, admin)
    zone = (await call(client, ZONE, {"n": "Austria", "c": ["AT"]}, admin))["createShippingZone"]["id"]
    method_input = {
        "zoneId": zone,
        "name": "Post",
        "minDeliveryDays": 1,
        "maxDeliveryDays": 3,
        "currency": "EUR",
        "rateKind": "FLAT",
        "flatPrice": 500,
    }
    method = (await call(client, METHOD, {"input": method_input}, admin))["createShippingMethod"]["id"]
    code = f"JRN10-{uuid.uuid4().hex[:6].upper()}"
    await call(
        client,
        PROMOTION,
        {"input": {"name": "10%", "kind": "PERCENTAGE", "value": 1000, "code": code}},
        admin,
    )
    email = f"journey-{uuid.uuid4().hex[:8]}@example.com"
    account = {"email": email, "password": PASSWORD, "name": "Journey Shopper"}
    await client.post("/graphql", json={"query": REGISTER, "variables": {"input": account}})
    signed_in = await client.post("/graphql", json={"query": LOGIN, "variables": {"e": email, "p": PASSWORD}})
    token = signed_in.json()["data"]["login"]["accessToken"]
    cart = ""
    for product, (_, quantity) in zip(products, LINES, strict=True):
        cart = (await call(client, ADD, {"p": product, "q": quantity}, token))["cartAddLine"]["id"]
    vienna = {"name": "Journey Shopper", "line1": "Stephansplatz 1", "city": "Wien", "postalCode": "1010"}
    await call(client, SHIP_TO, {"a": {**vienna, "country": "AT"}}, token)
    await call(client, CHOOSE, {"m": method}, token)
    await call(client, VOUCHER, {"c": code}, token)
    order = (await call(client, CHECKOUT, {"cart": cart, "key": "journey-1"}, token))["checkoutComplete"]
    return email, token, order, products


async def test_an_order_from_paid_to_delivered_and_a_line_returned_for_exactly_its_share(
    client: httpx.AsyncClient, myshop_router: ServerThread, mail: MailCatcher, issuer: Any
) -> None:
    admin = issuer.issue(str(uuid.uuid4()), ["ADMIN"]).token
    partner = issuer.issue(str(uuid.uuid4()), ["PARTNER"]).token
    email, customer, order, products = await checkout(client, admin)
    order_id = order["id"]
    # The order as priced, by hand: subtotal 8500, the voucher 10% of each line, 20% tax on what is left,
    # shipping 500 (+100 tax).
    assert order["status"] == "CONFIRMED"
    assert [(i["line"], i["quantity"]) for i in order["items"]] == [(1, 1), (2, 2), (3, 1)]
    assert [i["discount"]["amount"] for i in order["items"]] == [250, 200, 400]
    assert [i["tax"]["amount"] for i in order["items"]] == [450, 360, 720]
    assert [i["total"]["amount"] for i in order["items"]] == [2700, 2160, 4320]
    assert order["total"]["amount"] == 8500 - 850 + 1530 + 500 + 100

    async with GraphQLWebSocket(myshop_router, token=partner) as feed:
        await feed.subscribe(UPDATES)
        await asyncio.sleep(0.3)  # the feed reads from "now": let the subscription start first

        # A partner ships lines 1 and 2 with a tracking number
        first = (
            await call(
                client,
                CREATE_SHIPMENT,
                {
                    "input": {
                        "orderId": order_id,
                        "lines": [{"line": 1, "quantity": 1}, {"line": 2, "quantity": 2}],
                        "idempotencyKey": "parcel-1",
                    }
                },
                partner,
            )
        )["createShipment"]
        assert first["status"] == "PENDING"
        number = "JD014600006281234567"
        shipped = (
            await call(client, SHIPPED, {"id": first["id"], "carrier": "DHL", "number": number}, partner)
        )["markShipmentShipped"]
        assert shipped["status"] == "SHIPPED" and number in (shipped["trackingUrl"] or "")

        # the customer's mail has the tracking number, the order is partly fulfilled
        [tracking_mail] = await mail.wait_for(email, lambda m: number in m.part("text/plain"))
        assert "DHL" in tracking_mail.part("text/plain")
        seen = (await call(client, FULFILLMENT, {"id": order_id}, customer))["order"]
        assert seen["fulfillmentStatus"] == "PARTIALLY_FULFILLED"
        assert [s["trackingNumber"] for s in seen["shipments"]] == [number]

        # cancelling a shipped order is refused, with a return suggested
        refused = await answer(client, CANCEL, {"id": order_id}, customer)
        assert codes(refused) == ["ORDER_SHIPPED"]
        assert refused["errors"][0]["extensions"].get("suggestion") == "requestReturn"

        # the second parcel: line 3
        second = (
            await call(
                client,
                CREATE_SHIPMENT,
                {
                    "input": {
                        "orderId": order_id,
                        "lines": [{"line": 3, "quantity": 1}],
                        "idempotencyKey": "parcel-2",
                    }
                },
                partner,
            )
        )["createShipment"]
        await call(
            client, SHIPPED, {"id": second["id"], "carrier": "DHL", "number": "JD014600006281234568"}, partner
        )
        fulfilled = (await call(client, FULFILLMENT, {"id": order_id}, customer))["order"]
        assert fulfilled["fulfillmentStatus"] == "FULFILLED"
        # More than ordered is refused
        over = await answer(
            client,
            CREATE_SHIPMENT,
            {
                "input": {
                    "orderId": order_id,
                    "lines": [{"line": 3, "quantity": 1}],
                    "idempotencyKey": "parcel-3",
                }
            },
            partner,
        )
        assert codes(over) == ["BAD_USER_INPUT"]

        for shipment in (first, second):
            await call(client, DELIVERED, {"id": shipment["id"]}, partner)
        # Repeated, delivery acts once (same answer, no second event)
        await call(client, DELIVERED, {"id": first["id"]}, partner)
        delivered = (await call(client, FULFILLMENT, {"id": order_id}, customer))["order"]
        assert delivered["fulfillmentStatus"] == "DELIVERED"

        # The partner's feed delivered each fulfillment change, in order, the repeated delivery not again
        updates: list[dict[str, Any]] = []
        while len(updates) < 4:
            [payload] = await feed.next_payloads(1)
            update = payload["data"]["orderUpdates"]
            if update["order"]["id"] == order_id and update["kind"] == "FULFILLMENT":
                updates.append(update)
        assert [u["fulfillmentStatus"] for u in updates] == [
            "PARTIALLY_FULFILLED",  # parcel 1 shipped
            "FULFILLED",  # parcel 2 shipped
            "FULFILLED",  # parcel 1 delivered
            "DELIVERED",  # parcel 2 delivered
        ]
        assert [u["shipmentId"] for u in updates] == [first["id"], second["id"], first["id"], second["id"]]
        assert all(u["status"] == "CONFIRMED" for u in updates)

    # A return of line 2 (1 of the 3 lines, both its units): 2000 - 200 voucher + 360 tax = 2160, no shipping
    stock_before = (await call(client, STOCK, {"id": products[1]}, admin))["product"]["stock"]["onHand"]
    request = {
        "orderId": order_id,
        "lines": [{"line": 2, "quantity": 2}],
        "reason": "Too small",
        "idempotencyKey": "return-1",
    }
    requested = (await call(client, REQUEST_RETURN, {"input": request}, customer))["requestReturn"]
    assert requested["refund"]["total"] == {"amount": 2160, "currency": "EUR"}
    again = (await call(client, REQUEST_RETURN, {"input": request}, customer))["requestReturn"]
    assert again["id"] == requested["id"]
    await call(client, APPROVE, {"id": requested["id"]}, partner)
    received = (await call(client, RECEIVE, {"id": requested["id"]}, partner))["receiveReturn"]
    (await call(client, RECEIVE, {"id": requested["id"]}, partner))  # repeated: acts once

    async def refunds() -> dict[str, Any]:
        return (await call(client, REFUNDS, {"id": order_id}, admin))["order"]

    refunded = await eventually(
        refunds,
        lambda o: o["returns"] and o["returns"][0]["status"] == "REFUNDED",
        within=20,
        what="the return's refund and restock to complete",
    )
    assert received["refund"]["total"]["amount"] == 2160
    payment = refunded["payment"]
    assert payment["refundedAmount"]["amount"] == 2160
    assert [r["amount"]["amount"] for r in payment["refunds"]] == [2160]
    assert payment["status"] == "PARTIALLY_REFUNDED"
    stock_after = (await call(client, STOCK, {"id": products[1]}, admin))["product"]["stock"]["onHand"]
    assert stock_after == stock_before + 2
