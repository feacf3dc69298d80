"""The mails notifications sends for the shop's events: a welcome on registration, the order confirmation
(exactly once, however often its event is delivered), the cancellation with its reason."""

from __future__ import annotations

from notifications_shop import Shop


async def test_a_new_account_gets_a_welcome_mail_with_text_and_html(shop: Shop) -> None:
    # Given a customer who just registered
    customer = await shop.customer(name="Ann <Example>")

    # When the UserRegistered event reaches notifications and everything it wrote has been sent
    await shop.event("users", "UserRegistered", userId=customer.id)
    await shop.settled()

    # Then exactly one welcome mail arrived, plain text and HTML, the name escaped in the HTML only
    mails = shop.mail.to(customer.email)
    assert len(mails) == 1
    mail = mails[0]
    assert mail.subject == "Welcome to MyShop, Ann <Example>"
    assert mail.message.get_content_type() == "multipart/alternative"
    assert "Hi Ann <Example>," in mail.part("text/plain")
    assert "Hi Ann &lt;Example&gt;," in mail.part("text/html")
    row = await shop.final(customer.id, "WELCOME")
    assert (row["status"], row["recipient"], row["attempts"]) == ("SENT", customer.email, 1)
    assert row["sent_at"] is not None


async def test_placing_an_order_sends_one_confirmation_even_when_its_event_is_delivered_twice(
    shop: Shop,
) -> None:
    # Given a customer who placed an order for two kettles at USD 25.00
    customer = await shop.customer(name="Bo")
    product_id = await shop.product(name="Copper Kettle", price=2500)
    placed = await shop.place(customer, [(product_id, 2)])
    assert placed["data"]["placeOrder"]["status"] == "CONFIRMED", placed
    order_id = placed["data"]["placeOrder"]["id"]
    confirmed = await shop.mail.wait_for(customer.email, lambda mail: "confirmed" in mail.subject)
    assert len(confirmed) == 1

    # When the OrderConfirmed event is delivered a second time (same event id)
    _, fields = await shop.event("orders", "OrderConfirmed", orderId=order_id)
    await shop.deliver_again("orders", fields)
    await shop.settled()

    # Then the customer still has exactly one confirmation, with the lines and the total
    confirmations = [mail for mail in shop.mail.to(customer.email) if "confirmed" in mail.subject]
    assert len(confirmations) == 1
    text = confirmations[0].part("text/plain")
    assert "2 x Copper Kettle at USD 25.00 = USD 50.00" in text
    assert "Total: USD 50.00" in text
    assert order_id in text
    rows = await shop.notifications(customer.id, "ORDER_CONFIRMED")
    assert [row["status"] for row in rows] == ["SENT"]


async def test_a_declined_order_sends_one_cancellation_with_the_reason(shop: Shop) -> None:
    # Given a customer whose card is declined
    customer = await shop.customer()
    product_id = await shop.product(name="Glass Teapot", price=1800)

    # When they place an order, and notifications has handled the OrderCancelled event and sent all it wrote
    placed = await shop.place(customer, [(product_id, 1)], method="tok_decline")
    order_id = placed["errors"][0]["extensions"]["orderId"]
    event, _ = await shop.event("orders", "OrderCancelled", orderId=order_id)
    await shop.settled()

    # Then the order is cancelled and exactly one mail, sent at the first try, says why
    mails = [mail for mail in shop.mail.to(customer.email) if "cancelled" in mail.subject]
    assert len(mails) == 1
    text = mails[0].part("text/plain")
    assert event.payload["reason"]
    assert f"Reason: {event.payload['reason']}" in text
    assert "1 x Glass Teapot at USD 18.00 = USD 18.00" in text
    row = await shop.final(customer.id, "ORDER_CANCELLED")
    assert (row["status"], row["attempts"]) == ("SENT", 1)
