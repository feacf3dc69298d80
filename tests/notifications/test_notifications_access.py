"""Who sees what: a user's notifications are theirs and admins'; the dead-letter operations and resending are
for admins only; the notifications list pages newest first."""

from __future__ import annotations

import uuid

import pytest
from notifications_shop import NOTIFICATION_FIELDS, Shop

NOTIFICATION = f"query N($id: ID!) {{ notification(id: $id) {{ {NOTIFICATION_FIELDS} }} }}"
DEAD_LETTERS = "{ notificationDeadLetters { id eventId type error attempts } }"
REPLAY_ONE = 'mutation { replayNotificationDeadLetter(id: "1-1") }'
REPLAY_ALL = "mutation { replayNotificationDeadLetters }"
RESEND = "mutation R($id: ID!) { resendNotification(id: $id) { id } }"


async def test_a_user_reads_their_own_notifications(shop: Shop) -> None:
    customer = await shop.customer()
    welcome = await shop.final(customer.id, "WELCOME")

    answer = await shop.notifications_of(customer.id, customer.token)

    edges = answer.ok()["_entities"][0]["notifications"]["edges"]
    assert [edge["node"]["id"] for edge in edges] == [str(welcome["id"])]
    node = edges[0]["node"]
    assert (node["kind"], node["channel"], node["status"], node["recipient"]) == (
        "WELCOME",
        "EMAIL",
        "SENT",
        customer.email,
    )
    assert node["user"] == {"id": customer.id}
    assert node["subject"] == welcome["subject"] and node["body"] == welcome["body"]


async def test_an_admin_reads_anyones_notifications(shop: Shop) -> None:
    customer = await shop.customer()
    welcome = await shop.final(customer.id, "WELCOME")

    answer = await shop.notifications_of(customer.id, shop.admin)

    edges = answer.ok()["_entities"][0]["notifications"]["edges"]
    assert [edge["node"]["id"] for edge in edges] == [str(welcome["id"])]


async def test_another_customer_is_forbidden_a_users_notifications(shop: Shop) -> None:
    customer, other = await shop.customer(), await shop.customer()
    welcome = await shop.final(customer.id, "WELCOME")

    listing = await shop.notifications_of(customer.id, other.token)
    one = await shop.gql("notifications", NOTIFICATION, {"id": str(welcome["id"])}, token=other.token)

    assert listing.error_codes == ["FORBIDDEN"]
    assert one.error_codes == ["FORBIDDEN"]


async def test_an_anonymous_caller_is_unauthenticated_for_notifications(shop: Shop) -> None:
    customer = await shop.customer()
    welcome = await shop.final(customer.id, "WELCOME")

    listing = await shop.notifications_of(customer.id, token=None)  # type: ignore[arg-type]
    one = await shop.gql("notifications", NOTIFICATION, {"id": str(welcome["id"])})

    assert listing.error_codes == ["UNAUTHENTICATED"]
    assert one.error_codes == ["UNAUTHENTICATED"]


async def test_a_notification_is_read_by_id_by_its_user(shop: Shop) -> None:
    customer = await shop.customer()
    welcome = await shop.final(customer.id, "WELCOME")

    found = await shop.gql("notifications", NOTIFICATION, {"id": str(welcome["id"])}, token=customer.token)
    missing = await shop.gql("notifications", NOTIFICATION, {"id": str(uuid.uuid4())}, token=customer.token)

    assert found.ok()["notification"]["id"] == str(welcome["id"])
    assert missing.ok()["notification"] is None


async def test_notifications_page_newest_first(shop: Shop) -> None:
    # Given a customer with three mails: the welcome and two price drops
    customer = await shop.customer()
    product_id = await shop.product(price=3000)
    (await shop.watch(customer, product_id)).ok()
    await shop.final(customer.id, "WELCOME")
    await shop.set_price(product_id, 2000)
    await shop.mail.wait_for(customer.email, lambda mail: "now USD 20.00" in mail.subject)
    await shop.set_price(product_id, 1000)
    await shop.mail.wait_for(customer.email, lambda mail: "now USD 10.00" in mail.subject)

    # When they read them two at a time
    first = (await shop.notifications_of(customer.id, customer.token, first=2)).ok()
    page = first["_entities"][0]["notifications"]
    second = (
        await shop.notifications_of(customer.id, customer.token, first=2, after=page["pageInfo"]["endCursor"])
    ).ok()["_entities"][0]["notifications"]

    # Then the newest come first and the second page ends the list
    subjects = [edge["node"]["subject"] for edge in page["edges"] + second["edges"]]
    assert [subject.split(" now ")[-1] for subject in subjects[:2]] == ["USD 10.00", "USD 20.00"]
    assert subjects[2].startswith("Welcome")
    assert (page["pageInfo"]["hasNextPage"], second["pageInfo"]["hasNextPage"]) == (True, False)


@pytest.mark.parametrize("operation", [DEAD_LETTERS, REPLAY_ONE, REPLAY_ALL])
async def test_dead_letter_operations_are_forbidden_to_non_admins(shop: Shop, operation: str) -> None:
    customer = await shop.customer()

    as_customer = await shop.gql("notifications", operation, token=customer.token)
    as_partner = await shop.gql(
        "notifications", operation, token=shop.issuer.issue(str(uuid.uuid4()), ["PARTNER"]).token
    )

    assert as_customer.error_codes == ["FORBIDDEN"]
    assert as_partner.error_codes == ["FORBIDDEN"]


async def test_an_admin_lists_and_replays_dead_letters(shop: Shop) -> None:
    listing = await shop.gql("notifications", DEAD_LETTERS, token=shop.admin)
    replay_all = await shop.gql("notifications", REPLAY_ALL, token=shop.admin)
    replay_unknown = await shop.gql("notifications", REPLAY_ONE, token=shop.admin)

    assert listing.ok() == {"notificationDeadLetters": []}
    assert replay_all.ok() == {"replayNotificationDeadLetters": 0}
    assert replay_unknown.error_codes == ["NOT_FOUND"]


async def test_resending_is_forbidden_to_non_admins(shop: Shop) -> None:
    customer = await shop.customer(tag="+refuse")
    failed = await shop.final(customer.id, "WELCOME")

    answer = await shop.gql("notifications", RESEND, {"id": str(failed["id"])}, token=customer.token)

    assert answer.error_codes == ["FORBIDDEN"]
    assert (await shop.final(customer.id, "WELCOME"))["attempts"] == 1
