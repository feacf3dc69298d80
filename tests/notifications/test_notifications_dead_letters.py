"""A dead-lettered event replayed by an admin is handled through notifications' own handlers: its mail is
written and sent once, and a second replay of the same event sends nothing more."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any

from notifications_shop import Shop

from shared.consumer import dead_letter_entry
from shared.outbox import Event
from shared.subscriptions import dead_letter_stream

REPLAY_ALL = "mutation { replayNotificationDeadLetters }"
DEAD_LETTERS = "{ notificationDeadLetters { id eventId type attempts } }"


def dead_letter(event: Event) -> dict[str, Any]:
    error = "PeerUnavailable: users: SERVICE_UNAVAILABLE: HTTP 503"
    return dead_letter_entry(
        event.to_fields(), stream="events:users", message_id="1-0", error=error, attempts=8
    )


async def test_a_replayed_dead_letter_is_mailed_once(shop: Shop) -> None:
    # Given a UserRegistered event that notifications gave up on, dead-lettered twice (two relays' copies)
    user_id, email = str(uuid.uuid4()), f"replay-{uuid.uuid4().hex[:8]}@example.com"
    event = Event(
        id=uuid.uuid4(),
        type="UserRegistered",
        producer="users",
        version=1,
        occurred_at=datetime.now(UTC),
        payload={
            "userId": user_id,
            "email": email,
            "name": "Replayed Rae",
            "at": datetime.now(UTC).isoformat(),
        },
        aggregate_id=user_id,
    )
    stream = dead_letter_stream(shop.prefix, "notifications")
    for _ in range(2):
        await shop.redis.xadd(stream, dead_letter(event))
    listed = (await shop.gql("notifications", DEAD_LETTERS, token=shop.admin)).ok()["notificationDeadLetters"]
    assert [(entry["eventId"], entry["attempts"]) for entry in listed] == [(str(event.id), 8)] * 2

    # When an admin replays them all
    replayed = await shop.gql("notifications", REPLAY_ALL, token=shop.admin)

    # Then both entries are done, and the welcome mail is sent once
    assert replayed.ok() == {"replayNotificationDeadLetters": 2}
    mails = await shop.mail.wait_for(email)
    await shop.settled()
    assert [mail.subject for mail in shop.mail.to(email)] == ["Welcome to MyShop, Replayed Rae"]
    assert len(mails) == 1
    assert await shop.redis.xlen(stream) == 0
