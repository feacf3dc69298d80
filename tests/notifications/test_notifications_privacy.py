"""users' `UserDeleted` makes notifications forget that user: their mails and watches go (nobody else's), the
consumer's dead letters about them lose the email and name, and a second delivery changes nothing."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

from eventually import eventually
from notifications_shop import Shop
from test_notifications_dead_letters import dead_letter

from shared.outbox import Event
from shared.subscriptions import dead_letter_stream


def user_deleted(user_id: str) -> Event:
    now = datetime.now(UTC)
    return Event(
        uuid.uuid4(), "UserDeleted", "users", 1, now, {"userId": user_id, "at": now.isoformat()}, user_id
    )


def registered(user_id: str, email: str, name: str) -> Event:
    payload = {"userId": user_id, "email": email, "name": name, "at": datetime.now(UTC).isoformat()}
    return Event(uuid.uuid4(), "UserRegistered", "users", 1, datetime.now(UTC), payload, user_id)


async def test_user_deleted_removes_their_mails_and_watches_and_scrubs_their_dead_letters(shop: Shop) -> None:
    # Given two customers with welcome mails and a watch each, and a dead letter about the first
    product = await shop.product()
    gone, kept = await shop.customer(name="Gone Gwen"), await shop.customer(name="Kept Kim")
    for customer in (gone, kept):
        (await shop.watch(customer, product)).ok()
        await shop.final(customer.id, "WELCOME")
    letters = dead_letter_stream(shop.prefix, "notifications")
    await shop.redis.xadd(letters, dead_letter(registered(gone.id, gone.email, gone.name)))
    await shop.redis.xadd(letters, dead_letter(registered(kept.id, kept.email, kept.name)))

    # When users says the first was deleted (twice: a relay's second copy)
    event = user_deleted(gone.id)
    for _ in range(2):
        await shop.redis.xadd(shop.stream("users"), event.to_fields())  # type: ignore[arg-type]

    # Then the first's mails and watches are gone, the second's are there
    await eventually(lambda: shop.notifications(gone.id), lambda rows: rows == [], what="the mails forgotten")
    await shop.settled()
    assert await shop.rows("SELECT 1 FROM product_watches WHERE user_id = :id", id=uuid.UUID(gone.id)) == []
    assert len(await shop.notifications(kept.id)) == 1
    assert (
        len(await shop.rows("SELECT 1 FROM product_watches WHERE user_id = :id", id=uuid.UUID(kept.id))) == 1
    )
    # and the dead letters are both still there, the first without its email and name
    entries = [str(fields) for _, fields in await shop.redis.xrange(letters)]
    assert len(entries) == 2
    assert not any(gone.email in entry or gone.name in entry for entry in entries)
    assert any(kept.email in entry for entry in entries)
