"""Issue 18's mails after the sale, through the real consumer, sender and SMTP catcher: shipping's
`ShipmentShipped` (carrier, tracking number and link, the lines with their variant labels) and
`ShipmentDelivered`, orders' `ReturnApproved`, `ReturnRejected` and `ReturnRefunded`, each mailed to the
order's customer once per event. The events are published as their producers' relays do (contract of issue
18), so these tests do not wait for shipping or returns to exist."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any

from eventually import eventually
from mail_catcher import Received
from notifications_shop import Customer, Shop

from subgraphs.notifications.after_sale import tracking_link

TRACKING_URL = "https://track.example.com/parcels/JD014600006281?lang=en&ref=myshop"
LINES = [
    {
        "line": 1,
        "productId": str(uuid.uuid4()),
        "variantId": str(uuid.uuid4()),
        "sku": "TS-M-RED",
        "productName": "Linen T-Shirt",
        "variantLabel": "M / Red",
        "quantity": 2,
    },
    {
        "line": 3,
        "productId": str(uuid.uuid4()),
        "variantId": str(uuid.uuid4()),
        "sku": "MUG",
        "productName": "Enamel Mug",
        "variantLabel": None,
        "quantity": 1,
    },
]


def shipment(customer: Customer, status: str, **changes: Any) -> dict[str, Any]:
    now = datetime.now(UTC).isoformat()
    return {
        "shipmentId": str(uuid.uuid4()),
        "orderId": str(uuid.uuid4()),
        "userId": customer.id,
        "status": status,
        "lines": LINES,
        "carrier": "DHL Express",
        "trackingNumber": "JD014600006281",
        "trackingUrl": TRACKING_URL,
        "createdAt": now,
        "shippedAt": now,
        "deliveredAt": None,
        "returnedAt": None,
        "cancelledAt": None,
        "orderCreatedAt": now,
        "fulfillmentStatus": "PARTIALLY_FULFILLED",
        "previousFulfillmentStatus": "UNFULFILLED",
        **changes,
    }


def a_return(customer: Customer, status: str, **changes: Any) -> dict[str, Any]:
    return {
        "returnId": str(uuid.uuid4()),
        "orderId": str(uuid.uuid4()),
        "userId": customer.id,
        "status": status,
        "reason": "Too small",
        "lines": [{**LINES[0], "quantity": 1, "refund": 1995}],
        "refund": {"subtotal": 2000, "discount": 200, "tax": 195, "shipping": 0, "total": 1995},
        "currency": "EUR",
        "rejectionReason": None,
        **changes,
    }


def on_its_way(mail: Received) -> bool:
    return "on its way" in mail.subject


def about_a_return(mail: Received) -> bool:
    return "return" in mail.subject


async def consumed(shop: Shop, producer: str) -> None:
    """Until the notifications group has been given and has acknowledged every entry of the stream, and no
    mail waits to be sent."""
    stream = shop.stream(producer)

    async def done() -> bool:
        last = (await shop.redis.xinfo_stream(stream))["last-generated-id"]
        groups = {
            str(g["name"], "utf-8") if isinstance(g["name"], bytes) else g["name"]: g
            for g in await shop.redis.xinfo_groups(stream)
        }
        group = groups.get("notifications")
        return bool(group) and not group["pending"] and group["last-delivered-id"] == last

    await eventually(done, within=20, what=f"notifications consumed {stream}")
    await shop.settled()


async def test_a_shipped_parcel_mails_the_customer_once_with_carrier_tracking_number_link_and_lines(
    shop: Shop,
) -> None:
    # Given a customer part of whose order was just shipped with DHL
    customer = await shop.customer(name="Ann")
    payload = shipment(customer, "SHIPPED")

    # When shipping's ShipmentShipped reaches notifications twice (same event id: a relay's redelivery)
    _, fields = await shop.publish("shipping", "ShipmentShipped", **payload)
    await shop.deliver_again("shipping", fields)
    await shop.mail.wait_for(customer.email, on_its_way)
    await consumed(shop, "shipping")

    # Then one mail says the order is on its way, with the carrier, the number, the link and the lines
    [mail] = [mail for mail in shop.mail.to(customer.email) if on_its_way(mail)]
    order_number = payload["orderId"][:8].upper()
    assert mail.subject == f"Your order {order_number} is on its way"
    text = mail.part("text/plain")
    for expected in (
        "on its way with DHL Express",
        "Tracking number: JD014600006281",
        f"Track your parcel: {TRACKING_URL}",
        "2 x Linen T-Shirt — M / Red",
        "1 x Enamel Mug",
        "The rest of your order follows in another parcel.",
    ):
        assert expected in text, text
    html = mail.part("text/html")
    assert f'href="{TRACKING_URL.replace("&", "&amp;")}"' in html
    assert "JD014600006281" in html and "Linen T-Shirt — M / Red" in html
    row = await shop.final(customer.id, "SHIPMENT_SHIPPED")
    assert (row["status"], row["recipient"]) == ("SENT", customer.email)


async def test_a_tracking_link_that_is_not_http_is_left_out_and_the_number_stays(shop: Shop) -> None:
    # Given a shipment whose partner-entered tracking URL is a script, and the whole order in it
    customer = await shop.customer(name="Bo")
    payload = shipment(customer, "SHIPPED", trackingUrl="javascript:alert(1)", fulfillmentStatus="FULFILLED")

    # When it is mailed
    await shop.publish("shipping", "ShipmentShipped", **payload)
    [mail] = await shop.mail.wait_for(customer.email, on_its_way)

    # Then the mail carries the number, no link, and does not promise another parcel
    text, html = mail.part("text/plain"), mail.part("text/html")
    assert "Tracking number: JD014600006281" in text
    assert "javascript" not in text and "javascript" not in html and "Track your parcel" not in text
    assert "another parcel" not in text


def test_only_http_and_https_tracking_urls_with_a_host_make_a_link() -> None:
    assert tracking_link(TRACKING_URL) == TRACKING_URL
    assert tracking_link("http://carrier.example/t/1") == "http://carrier.example/t/1"
    for refused in ("javascript:alert(1)", "data:text/html,x", "https://", "ftp://x.example/1", None, 7):
        assert tracking_link(refused) is None, refused
    assert tracking_link("https://x.example/a b") is None  # whitespace: not one link
    assert tracking_link("https://x.example/" + "a" * 3000) is None


async def test_a_delivered_parcel_mails_the_customer_its_lines(shop: Shop) -> None:
    customer = await shop.customer(name="Cleo")
    payload = shipment(customer, "DELIVERED", deliveredAt="2026-12-05T14:30:00+00:00")

    await shop.publish("shipping", "ShipmentDelivered", **payload)
    [mail] = await shop.mail.wait_for(customer.email, lambda mail: "delivered" in mail.subject)

    assert mail.subject == f"Your order {payload['orderId'][:8].upper()} was delivered"
    text = mail.part("text/plain")
    assert "was delivered on 05 December 2026" in text
    assert "2 x Linen T-Shirt — M / Red" in text and "1 x Enamel Mug" in text


async def test_an_approved_return_tells_the_customer_what_to_send_back(shop: Shop) -> None:
    customer = await shop.customer(name="Dan")
    payload = a_return(customer, "APPROVED")

    await shop.publish("orders", "ReturnApproved", **payload)
    [mail] = await shop.mail.wait_for(customer.email, about_a_return)

    return_number = payload["returnId"][:8].upper()
    assert mail.subject == f"Your return {return_number} is approved"
    text = mail.part("text/plain")
    assert "Please send back:" in text and "1 x Linen T-Shirt — M / Red" in text
    assert "EUR" not in text  # no money promised before the items arrive


async def test_a_rejected_return_tells_the_customer_why(shop: Shop) -> None:
    customer = await shop.customer(name="Eve")
    payload = a_return(customer, "REJECTED", rejectionReason="Worn <and> washed")

    await shop.publish("orders", "ReturnRejected", **payload)
    [mail] = await shop.mail.wait_for(customer.email, about_a_return)

    assert "not accepted" in mail.subject
    assert "Reason: Worn <and> washed" in mail.part("text/plain")
    assert "Reason: Worn &lt;and&gt; washed" in mail.part("text/html")


async def test_a_refunded_return_tells_the_customer_the_amount_given_back(shop: Shop) -> None:
    customer = await shop.customer(name="Finn")
    payload = a_return(customer, "REFUNDED")

    await shop.publish("orders", "ReturnRefunded", **payload)
    [mail] = await shop.mail.wait_for(customer.email, about_a_return)

    assert mail.subject == f"Your refund for return {payload['returnId'][:8].upper()}: EUR 19.95"
    text = mail.part("text/plain")
    assert "refunded EUR 19.95 to your payment method" in text
    assert "1 x Linen T-Shirt — M / Red: EUR 19.95 back" in text
    assert "Refunded: EUR 19.95" in text
    row = await shop.final(customer.id, "RETURN_REFUNDED")
    assert row["status"] == "SENT"
