"""The account's mails (issue 14): users' events, published here as users' relay publishes them, reach the
address the event names, over the real SMTP path; a one-time token is in the mail and nowhere in the
notifications database (sealed until the send, then forgotten); a token that is expired or does not open fails
its mail; a redelivered event mails once; a deleted user leaves nothing behind."""

from __future__ import annotations

import secrets
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from notifications_shop import Shop

from shared.sealed import seal
from subgraphs.notifications.mail import TOKEN_MASK

DEAD_LETTERS = "{ notificationDeadLetters { id type error } }"
RESEND = "mutation R($id: ID!) { resendNotification(id: $id) { id status } }"
WATCH = "mutation W($id: ID!) { watchProduct(productId: $id) { createdAt } }"


def address(tag: str = "") -> str:
    return f"acct-{uuid.uuid4().hex[:10]}{tag}@example.com"


def in_an_hour() -> str:
    return (datetime.now(UTC) + timedelta(hours=1)).isoformat()


def now() -> str:
    return datetime.now(UTC).isoformat()


@dataclass(frozen=True)
class TokenMail:
    event_type: str
    token_key: str
    expires_key: str
    purpose: str
    kind: str
    page: str

    def payload(self, shop: Shop, token: str, *, sealed: str | None = None, **more: Any) -> dict[str, Any]:
        """The event's payload for a new user, its token sealed as users seals it (or `sealed`)."""
        return {
            "userId": str(uuid.uuid4()),
            "email": address(),
            "name": "Ann Example",
            "at": now(),
            self.token_key: sealed if sealed is not None else seal(shop.service_secret, self.purpose, token),
            self.expires_key: in_an_hour(),
            **({"previousEmail": address()} if self.event_type == "EmailChangeRequested" else {}),
            **more,
        }


TOKEN_MAILS = [
    TokenMail(
        "UserRegistered",
        "verificationToken",
        "verificationExpiresAt",
        "email-verification",
        "WELCOME",
        "verify-email",
    ),
    TokenMail(
        "EmailVerificationRequested",
        "token",
        "expiresAt",
        "email-verification",
        "EMAIL_VERIFICATION",
        "verify-email",
    ),
    TokenMail(
        "PasswordResetRequested", "token", "expiresAt", "password-reset", "PASSWORD_RESET", "reset-password"
    ),
    TokenMail(
        "EmailChangeRequested",
        "token",
        "expiresAt",
        "email-change",
        "EMAIL_CHANGE_CONFIRMATION",
        "confirm-email-change",
    ),
]
VERIFICATION, RESET = TOKEN_MAILS[1], TOKEN_MAILS[2]


@pytest.mark.parametrize("case", TOKEN_MAILS, ids=lambda case: case.event_type)
async def test_a_token_mail_brings_its_token_to_the_events_address_and_leaves_it_nowhere(
    shop: Shop, case: TokenMail
) -> None:
    # Given an event of users carrying a sealed one-time token, for a user the users service does not know
    token = secrets.token_urlsafe(32)
    payload = case.payload(shop, token)

    # When notifications has handled it and sent what it wrote
    await shop.publish("users", case.event_type, **payload)
    [received] = await shop.mail.wait_for(payload["email"])
    await shop.settled()

    # Then the mail went to the event's address with the token as the code and in the link, text and HTML
    link = f"{shop.link_base}/{case.page}?token={token}"
    assert link.startswith("http://localhost:4000/account/")
    assert received.recipients == (payload["email"],)
    text, html = received.part("text/plain"), received.part("text/html")
    assert link in text and f"code where MyShop asks for it: {token}" in text
    assert f'href="{link}"' in html and f">{token}</p>" in html
    assert TOKEN_MASK not in text + html
    # And the row is SENT, its sealed token forgotten; no table holds the token, sealed or not
    row = await shop.final(payload["userId"], case.kind)
    assert (row["status"], row["recipient"], row["token_purpose"]) == ("SENT", payload["email"], case.purpose)
    assert row["sealed_token"] is None
    stored = await shop.everything_stored()
    assert payload["email"] in stored  # the dump does see the row
    assert token not in stored and payload[case.token_key] not in stored
    # And what the API shows is the mask
    listing = (await shop.notifications_of(payload["userId"], shop.admin)).ok()
    edges = listing["_entities"][0]["notifications"]["edges"]
    [node] = [edge["node"] for edge in edges if edge["node"]["kind"] == case.kind]
    assert TOKEN_MASK in node["body"] and TOKEN_MASK in node["bodyHtml"]
    assert token not in node["body"] + node["bodyHtml"]


async def test_an_email_change_mails_the_code_to_the_new_address_and_a_notice_without_it_to_the_old(
    shop: Shop,
) -> None:
    # Given a requested change of address
    token = secrets.token_urlsafe(32)
    payload = TOKEN_MAILS[3].payload(shop, token)
    new, previous = payload["email"], payload["previousEmail"]

    # When notifications has handled the event
    await shop.publish("users", "EmailChangeRequested", **payload)
    await shop.mail.wait_for(new)
    [notice] = await shop.mail.wait_for(previous)
    await shop.settled()

    # Then the new address got the code, the previous one a notice naming the new address, without the code
    assert len(shop.mail.to(new)) == 1 and token in shop.mail.to(new)[0].part("text/plain")
    assert notice.recipients == (previous,)
    assert new in notice.part("text/plain") and new in notice.part("text/html")
    assert token not in notice.part("text/plain") + notice.part("text/html")
    rows = await shop.notifications(payload["userId"])
    assert sorted((row["kind"], row["recipient"], row["status"]) for row in rows) == [
        ("EMAIL_CHANGE_CONFIRMATION", new, "SENT"),
        ("EMAIL_CHANGE_REQUESTED", previous, "SENT"),
    ]


@pytest.mark.parametrize(
    ("event_type", "kind", "to", "extra"),
    [
        ("SignUpAttempted", "SIGN_UP_ATTEMPTED", "email", {}),
        ("PasswordChanged", "PASSWORD_CHANGED", "email", {"reason": "CHANGED"}),
        ("EmailChanged", "EMAIL_CHANGED", "previousEmail", {"previousEmail": address()}),
    ],
    ids=["SignUpAttempted", "PasswordChanged", "EmailChanged"],
)
async def test_a_notice_reaches_the_events_address(
    shop: Shop, event_type: str, kind: str, to: str, extra: dict[str, Any]
) -> None:
    # Given an event of users about an account, no token in it
    payload = {"userId": str(uuid.uuid4()), "email": address(), "name": "Bo", "at": now(), **extra}

    # When notifications has handled it
    await shop.publish("users", event_type, **payload)
    [received] = await shop.mail.wait_for(payload[to])
    await shop.settled()

    # Then one mail of its kind went to the address the event names, and nowhere else
    assert received.recipients == (payload[to],)
    assert "Hi Bo," in received.part("text/plain")
    row = await shop.final(payload["userId"], kind)
    assert (row["status"], row["recipient"], row["token_purpose"]) == ("SENT", payload[to], None)
    if event_type == "EmailChanged":
        assert payload["email"] in received.part("text/plain")  # the notice names the new address
        assert shop.mail.to(payload["email"]) == []


async def test_sign_up_attempts_on_one_account_mail_it_once_within_the_cooldown(shop: Shop) -> None:
    # Given an account whose address someone keeps registering with
    user_id, email = str(uuid.uuid4()), address()
    attempt = {"userId": user_id, "email": email, "name": "Bo"}
    first, _ = await shop.publish("users", "SignUpAttempted", **attempt, at=now())
    await shop.mail.wait_for(email)

    # When five more attempts follow within the hour (another account's attempt among them)
    other, other_email = str(uuid.uuid4()), address()
    for _ in range(5):
        await shop.publish("users", "SignUpAttempted", **attempt, at=now())
    await shop.publish("users", "SignUpAttempted", userId=other, email=other_email, name="Cy", at=now())
    await shop.mail.wait_for(other_email)
    await shop.settled()

    # Then the account got one notice, the other account its own
    assert len(shop.mail.to(email)) == 1 and len(shop.mail.to(other_email)) == 1
    assert [row["event_id"] for row in await shop.notifications(user_id)] == [first.id]


async def test_the_password_change_notice_says_whether_it_was_a_reset(shop: Shop) -> None:
    # Given one password changed and one reset
    changed = {"userId": str(uuid.uuid4()), "email": address(), "name": "Bo", "at": now()}
    changed["reason"] = "CHANGED"
    reset = {**changed, "userId": str(uuid.uuid4()), "email": address(), "reason": "RESET"}

    # When both notices are sent
    await shop.publish("users", "PasswordChanged", **changed)
    await shop.publish("users", "PasswordChanged", **reset)
    [changed_mail] = await shop.mail.wait_for(changed["email"])
    [reset_mail] = await shop.mail.wait_for(reset["email"])

    # Then only the reset one speaks of the mailed code
    assert "reset with a code" in reset_mail.part("text/plain")
    assert "reset with a code" not in changed_mail.part("text/plain")


def _altered(sealed: str) -> str:
    middle = len(sealed) // 2
    return sealed[:middle] + ("A" if sealed[middle] != "A" else "B") + sealed[middle + 1 :]


@pytest.mark.parametrize(
    "sealed_as",
    ["altered", "sealed for another purpose", "sealed under another secret", "not base64", "not a token"],
)
async def test_a_token_that_does_not_open_fails_its_mail_without_sending_it(
    shop: Shop, sealed_as: str
) -> None:
    # Given a verification event whose sealed token is not a good one
    token = secrets.token_urlsafe(32)
    sealed = {
        "altered": _altered(seal(shop.service_secret, "email-verification", token)),
        "sealed for another purpose": seal(shop.service_secret, "password-reset", token),
        "sealed under another secret": seal("another-secret-" + "x" * 32, "email-verification", token),
        "not base64": "%%% not sealed at all %%%",
        "not a token": seal(shop.service_secret, "email-verification", 'x" onmouseover="alert(1)'),
    }[sealed_as]
    payload = VERIFICATION.payload(shop, token, sealed=sealed)

    # When notifications handles it
    await shop.publish("users", VERIFICATION.event_type, **payload)
    row = await shop.final(payload["userId"], "EMAIL_VERIFICATION")
    await shop.settled()

    # Then the mail is FAILED at its first try, saying why, nothing sent, nothing dead-lettered (no error)
    assert (row["status"], row["attempts"], row["sent_at"]) == ("FAILED", 1, None)
    assert ("not shaped like" if sealed_as == "not a token" else "does not open") in row["failure_reason"]
    assert row["sealed_token"] is None
    assert shop.mail.to(payload["email"]) == []
    assert (await shop.gql("notifications", DEAD_LETTERS, token=shop.admin)).ok() == {
        "notificationDeadLetters": []
    }


async def test_an_expired_token_fails_its_mail_instead_of_sending_a_dead_link(shop: Shop) -> None:
    # Given a reset event whose token expired a minute ago (a consumer far behind, say)
    token = secrets.token_urlsafe(32)
    expired = (datetime.now(UTC) - timedelta(minutes=1)).isoformat()
    payload = RESET.payload(shop, token, expiresAt=expired)

    # When notifications handles it
    await shop.publish("users", RESET.event_type, **payload)
    row = await shop.final(payload["userId"], "PASSWORD_RESET")

    # Then the mail is FAILED as expired, not sent, its sealed token forgotten
    assert (row["status"], row["attempts"], row["sent_at"]) == ("FAILED", 1, None)
    assert "expired" in row["failure_reason"]
    assert row["sealed_token"] is None
    assert shop.mail.to(payload["email"]) == []
    assert payload["token"] not in await shop.everything_stored()


async def test_a_redelivered_reset_event_sends_one_mail(shop: Shop) -> None:
    # Given a reset event handled and its mail sent
    token = secrets.token_urlsafe(32)
    payload = RESET.payload(shop, token)
    _, fields = await shop.publish("users", RESET.event_type, **payload)
    await shop.mail.wait_for(payload["email"])
    await shop.settled()

    # When the same event is delivered again
    await shop.deliver_again("users", fields)
    await shop.settled()

    # Then there is still one mail and one row
    assert len(shop.mail.to(payload["email"])) == 1
    assert len(await shop.notifications(payload["userId"], "PASSWORD_RESET")) == 1


async def test_a_failed_token_mail_is_not_resent_its_token_being_gone(shop: Shop) -> None:
    # Given a verification mail FAILED (its address refused), its sealed token forgotten
    token = secrets.token_urlsafe(32)
    payload = VERIFICATION.payload(shop, token, email=address("+refuse"))
    await shop.publish("users", VERIFICATION.event_type, **payload)
    failed = await shop.final(payload["userId"], "EMAIL_VERIFICATION")
    assert (failed["status"], failed["sealed_token"]) == ("FAILED", None)

    # When an admin asks to send it again
    resent = await shop.gql("notifications", RESEND, {"id": str(failed["id"])}, token=shop.admin)

    # Then it is refused (the user asks for a new code) and the row stays FAILED
    assert resent.error_codes == ["CONFLICT"]
    assert (await shop.final(payload["userId"], "EMAIL_VERIFICATION"))["attempts"] == 1


async def test_a_verified_email_mails_nothing(shop: Shop) -> None:
    # Given a user who confirmed their address
    user_id = str(uuid.uuid4())

    # When the EmailVerified event is handled
    await shop.publish("users", "EmailVerified", userId=user_id, email=address(), at=now())
    await shop.settled()

    # Then no mail is written
    assert await shop.notifications(user_id) == []


async def test_a_deleted_user_leaves_no_mail_no_watch_and_no_personal_data(shop: Shop) -> None:
    # Given a user with a mail sent and a product watched
    user_id = str(uuid.uuid4())
    email, name = address(), f"Zed {uuid.uuid4().hex[:8]}"
    await shop.publish("users", "SignUpAttempted", userId=user_id, email=email, name=name, at=now())
    await shop.mail.wait_for(email)
    product_id = await shop.product(stock=0)
    token = shop.issuer.issue(user_id, ["CUSTOMER"]).token
    (await shop.gql("notifications", WATCH, {"id": product_id}, token=token)).ok()
    await shop.settled()
    assert email in await shop.everything_stored()

    # When the UserDeleted event (no personal data in it) is handled
    await shop.publish("users", "UserDeleted", userId=user_id, at=now())
    await shop.settled()

    # Then notifications holds nothing of the user: no mail, no watch, neither address nor name anywhere
    assert await shop.notifications(user_id) == []
    assert await shop.rows("SELECT * FROM product_watches WHERE user_id = :id", id=uuid.UUID(user_id)) == []
    stored = await shop.everything_stored()
    assert email not in stored and name not in stored and user_id not in stored


async def test_an_event_about_a_deleted_user_arriving_late_mails_nothing(shop: Shop) -> None:
    # Given a user whose UserDeleted has been handled
    user_id = str(uuid.uuid4())
    await shop.publish("users", "UserDeleted", userId=user_id, at=now())
    await shop.settled()

    # When an older event about them arrives after it (a retry, a dead letter replayed by an admin)
    email, name = address(), f"Late {uuid.uuid4().hex[:8]}"
    await shop.publish("users", "SignUpAttempted", userId=user_id, email=email, name=name, at=now())
    await shop.settled()

    # Then no mail is written or sent, and the tombstone names nobody
    assert await shop.notifications(user_id) == []
    assert shop.mail.to(email) == []
    stored = await shop.everything_stored()
    assert email not in stored and user_id not in stored
