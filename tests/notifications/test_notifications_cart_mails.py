"""Issue 15's mails, through the real consumer, sender and SMTP catcher: the order confirmation shows the
price's breakdown when its event carries it (and the old layout when not), and an abandoned cart
(`CartAbandoned`) brings one reminder with its lines, once per event and once per user within the cooldown."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any

from notifications_shop import Customer, Shop

from subgraphs.notifications.events import breakdown


def confirmed_payload(customer: Customer, product_id: str, **breakdown_keys: Any) -> dict[str, Any]:
    return {
        "orderId": str(uuid.uuid4()),
        "userId": customer.id,
        "currency": "EUR",
        "items": [{"productId": product_id, "quantity": 2, "unitPrice": 2500}],
        **breakdown_keys,
    }


PRICED = {
    "subtotal": 5000,
    "discountTotal": 500,
    "shipping": 490,
    "shippingNet": 490,
    "taxTotal": 900,
    "itemsNet": 4500,
    "pricesIncludeTax": False,
    "total": 5000 - 500 + 490 + 900,
    "discounts": [{"promotionId": str(uuid.uuid4()), "code": "WELCOME10", "name": "Welcome", "amount": 500}],
    "taxLines": [{"taxClass": "standard", "rateBp": 2000, "amount": 900}],
    "shippingMethod": {"id": "m1", "name": "Standard parcel"},
    "cartId": str(uuid.uuid4()),
}


def abandoned(customer: Customer, product_id: str, quantity: int = 3) -> dict[str, Any]:
    return {
        "cartId": str(uuid.uuid4()),
        "userId": customer.id,
        "currency": "USD",
        "subtotal": 1200 * quantity,
        "lines": [{"productId": product_id, "quantity": quantity, "unitPrice": 1200}],
        "lastActivityAt": datetime.now(UTC).isoformat(),
    }


async def test_a_confirmation_with_the_breakdown_shows_subtotal_discount_shipping_tax_and_total(
    shop: Shop,
) -> None:
    customer = await shop.customer(name="Cleo")
    product_id = await shop.product(name="Enamel Mug", price=2500, currency="EUR")

    await shop.publish("orders", "OrderConfirmed", **confirmed_payload(customer, product_id, **PRICED))
    await shop.settled()

    [mail] = [mail for mail in shop.mail.to(customer.email) if "confirmed" in mail.subject]
    text = mail.part("text/plain")
    for row in (
        "2 x Enamel Mug at EUR 25.00 = EUR 50.00",
        "Subtotal: EUR 50.00",
        "Welcome (WELCOME10): EUR -5.00",
        "Shipping (Standard parcel): EUR 4.90",
        "Tax (standard, 20%): EUR 9.00",
        "Total: EUR 58.90",
    ):
        assert row in text
    html = mail.part("text/html")
    assert "Welcome (WELCOME10)" in html and "Shipping (Standard parcel)" in html and "EUR 58.90" in html


async def test_a_confirmation_without_the_breakdown_keeps_the_old_layout(shop: Shop) -> None:
    customer = await shop.customer(name="Dan")
    product_id = await shop.product(name="Tin Kettle", price=2500, currency="EUR")

    await shop.publish("orders", "OrderConfirmed", **confirmed_payload(customer, product_id, total=5000))
    await shop.settled()

    [mail] = [mail for mail in shop.mail.to(customer.email) if "confirmed" in mail.subject]
    text = mail.part("text/plain")
    assert "2 x Tin Kettle at EUR 25.00 = EUR 50.00" in text and "Total: EUR 50.00" in text
    assert "Subtotal" not in text and "Shipping" not in text and "Tax" not in text


async def test_an_abandoned_cart_brings_one_reminder_with_its_lines_even_delivered_twice(shop: Shop) -> None:
    customer = await shop.customer(name="Eve")
    product_id = await shop.product(name="Linen Apron", price=1200)

    _, fields = await shop.publish("orders", "CartAbandoned", **abandoned(customer, product_id))
    await shop.deliver_again("orders", fields)
    await shop.settled()

    [mail] = [mail for mail in shop.mail.to(customer.email) if "cart" in mail.subject]
    text = mail.part("text/plain")
    assert "Hi Eve," in text
    assert "3 x Linen Apron at USD 12.00 = USD 36.00" in text and "Subtotal: USD 36.00" in text
    assert f"{shop.link_base}/cart" in text
    row = await shop.final(customer.id, "CART_REMINDER")
    assert (row["status"], row["recipient"]) == ("SENT", customer.email)


async def test_a_second_abandoned_cart_within_the_cooldown_brings_no_second_reminder(shop: Shop) -> None:
    customer = await shop.customer(name="Fay")
    product_id = await shop.product(name="Oak Board", price=1200)
    await shop.publish("orders", "CartAbandoned", **abandoned(customer, product_id, quantity=1))
    await shop.settled()

    await shop.publish("orders", "CartAbandoned", **abandoned(customer, product_id, quantity=2))
    await shop.settled()

    assert len([mail for mail in shop.mail.to(customer.email) if "cart" in mail.subject]) == 1
    assert len(await shop.notifications(customer.id, "CART_REMINDER")) == 1


def test_the_breakdown_of_an_event_before_pricing_is_none_and_of_a_tax_inclusive_one_says_so() -> None:
    old = {"currency": "EUR", "total": 100, "items": []}
    inclusive = {
        "currency": "EUR",
        "subtotal": 1190,
        "pricesIncludeTax": True,
        "discounts": [{"promotionId": str(uuid.uuid4()), "code": None, "name": "Spring", "amount": 100}],
        "taxLines": [{"taxClass": "reduced", "rateBp": 825, "amount": 83}],
        "shippingMethod": None,
    }

    assert breakdown(old) is None
    assert breakdown(inclusive) == {
        "subtotal": "EUR 11.90",
        "discounts": [{"label": "Spring", "amount": "EUR -1.00"}],
        "shipping": None,
        "taxes": [{"label": "Incl. tax (reduced, 8.25%)", "amount": "EUR 0.83"}],
    }
