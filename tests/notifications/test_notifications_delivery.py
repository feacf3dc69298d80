"""Delivery over SMTP through the stack's sender: a refusal fails the mail with the server's answer and keeps
it; a temporary refusal is retried, then sent or given up; an admin sends a failed mail again."""

from __future__ import annotations

import uuid

from notifications_shop import Shop

RESEND = "mutation R($id: ID!) { resendNotification(id: $id) { id status attempts } }"


async def test_a_permanent_refusal_fails_the_mail_at_once_with_the_reason_and_keeps_it(shop: Shop) -> None:
    # Given a customer whose mailbox the SMTP server refuses (550)
    customer = await shop.customer(tag="+refuse")

    # When their welcome mail is sent
    row = await shop.final(customer.id, "WELCOME")

    # Then it is FAILED after one try with the server's answer, and the mail itself is kept
    assert (row["status"], row["attempts"], row["sent_at"]) == ("FAILED", 1, None)
    assert "550" in row["failure_reason"]
    assert row["subject"].startswith("Welcome to MyShop")
    assert "Welcome to MyShop!" in row["body"]
    assert shop.mail.refusals(customer.email) == [550]
    assert shop.mail.to(customer.email) == []


async def test_a_temporary_refusal_is_retried_until_the_mail_is_sent(shop: Shop) -> None:
    # Given a customer whose mailbox is busy once (451), then accepts
    customer = await shop.customer(tag="+flaky")

    # When their welcome mail is sent
    row = await shop.final(customer.id, "WELCOME")

    # Then the second try delivers it
    assert (row["status"], row["attempts"]) == ("SENT", 2)
    assert shop.mail.refusals(customer.email) == [451]
    assert len(shop.mail.to(customer.email)) == 1


async def test_a_mail_refused_on_every_try_fails_after_the_last_one(shop: Shop) -> None:
    # Given a customer whose mailbox is always busy (451); the tests allow 3 tries
    customer = await shop.customer(tag="+busy")

    # When their welcome mail is sent
    row = await shop.final(customer.id, "WELCOME")

    # Then it is FAILED after 3 tries with the last answer
    assert (row["status"], row["attempts"]) == ("FAILED", 3)
    assert "451" in row["failure_reason"]
    assert shop.mail.refusals(customer.email) == [451, 451, 451]


async def test_an_admin_resends_a_failed_mail_with_fresh_tries(shop: Shop) -> None:
    # Given a mail without a one-time code (a welcome may carry one, which is not resent) FAILED after the
    # server refused it
    user_id, email = str(uuid.uuid4()), f"resend-{uuid.uuid4().hex[:8]}+refuse@example.com"
    await shop.publish("users", "SignUpAttempted", userId=user_id, email=email, name="Ann", at="2026-12-06")
    failed = await shop.final(user_id, "SIGN_UP_ATTEMPTED")

    # When an admin sends it again
    resent = await shop.gql("notifications", RESEND, {"id": str(failed["id"])}, token=shop.admin)

    # Then it is PENDING with its tries reset, and the sender tries it once more
    assert resent.ok()["resendNotification"] == {"id": str(failed["id"]), "status": "PENDING", "attempts": 0}
    row = await shop.final(user_id, "SIGN_UP_ATTEMPTED")
    assert (row["status"], row["attempts"]) == ("FAILED", 1)
    assert shop.mail.refusals(email) == [550, 550]


async def test_resending_a_mail_that_did_not_fail_is_a_conflict(shop: Shop) -> None:
    # Given a welcome mail that was sent
    customer = await shop.customer()
    sent = await shop.final(customer.id, "WELCOME")

    # When an admin asks to send it again
    resent = await shop.gql("notifications", RESEND, {"id": str(sent["id"])}, token=shop.admin)

    # Then it is refused: a sent mail is not sent twice
    assert resent.error_codes == ["CONFLICT"]
